"""Files: FileService (service.py) around a FilesAdapter, the files config, orphaned-file cleanup."""
