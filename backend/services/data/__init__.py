"""The data path: ObjectService (objects.py) and the schema, query, read, include and render rules it applies."""
