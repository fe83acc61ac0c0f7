"""The small file beside a SQLite database that tells every process sharing it of a committed schema change.

Each change replaces the file (write a fresh one, rename it over) with content unique to that change: the
database's count of schema changes and a nonce (``sqlite_stamp.py`` says when, and what the count is for).
Reading it costs an open, a read and a close on every unit of work; an ``os.stat`` costs one system call. The stat
alone is not exact: a replaced file may get the freed inode number back, the same size, and, within one tick of the
file system's coarse clock, the same mtime. So the content read last is reused only while the file's inode, size
and mtime are unchanged AND that mtime was already more than ``SETTLED_NS`` in the past when the content was read:
any later replacement then carries a later mtime (the clock has moved on by more than a tick), so it cannot look
the same. A file changed within that window is read again every time, as before. (A wall clock set back by more
than the window could defeat this; the window is then the stated limit.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SETTLED_NS = 2_000_000_000  # far above any file system's mtime granularity (ext4, XFS, tmpfs: one clock tick)
Signature = tuple[int, int, int]  # inode, size, mtime in ns


class SchemaFile:
    """Reads and replaces the schema-change file; a settled file's content is not read again until it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = os.fsdecode(path)
        self._known: tuple[Signature, bytes] | None = None  # a settled file's signature and its content

    def stamp(self) -> bytes | None:
        """The content of the file (None while it does not exist): a value that changes with each change."""
        try:
            status = os.stat(self._name)
        except FileNotFoundError:
            return None
        signature = (status.st_ino, status.st_size, status.st_mtime_ns)
        known = self._known
        if known is not None and known[0] == signature:
            return known[1]
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return None
        # read after the stat: the content is that file's or a newer one's; a newer one changes the signature
        settled = time.time_ns() - status.st_mtime_ns > SETTLED_NS
        self._known = (signature, content) if settled else None
        return content

    def replace(self, content: str) -> None:
        """Publish a change: the new content appears at once and whole (a rename over the old file)."""
        fresh = self.path.with_name(f"{self.path.name}.{os.getpid()}.{id(self)}")
        fresh.write_text(content)
        os.replace(fresh, self.path)
