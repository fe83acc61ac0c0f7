"""SQLite: which schema change every process sharing the file has to obey, from the database itself.

The database keeps the count of committed schema changes in ``ballast_schema_stamp``; the changing transaction
increments it and, still holding SQLite's write lock (so files are written in commit order), replaces the
schema file (``schema_file.py``: one ``stat`` per unit of work, no trip to the database thread) with
``"<count> <nonce>"``, all BEFORE its COMMIT. A process that dies after the COMMIT has therefore already
announced it: nobody misses the change. A process that reloads schemas reads the count first, then the
schemas; the file's content is used as the stamp only once a reload has seen the count it names. Until then
(the changing transaction has not committed yet, or died before it could) ``current`` is a fresh value: every
unit reloads, reading the rules the database actually holds. A count the file names but the database never
committed (a writer that failed or died between the two) is repaired when a process next opens the store.
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.storage.schema_file import SchemaFile

_CREATE = (
    "CREATE TABLE IF NOT EXISTS ballast_schema_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO ballast_schema_stamp VALUES (1, 0)",
)
_BUMP = sa.text("UPDATE ballast_schema_stamp SET stamp = stamp + 1 WHERE id = 1 RETURNING stamp")
_READ = sa.text("SELECT stamp FROM ballast_schema_stamp WHERE id = 1")


class SchemaStamp:
    """One store's view of the schema-change count: the file as the fast signal, the database as the truth."""

    def __init__(self, file: SchemaFile) -> None:
        self.file = file
        self._seen = -1  # the highest count a schema reload of this process read before reading the schemas
        self._parsed: tuple[bytes, int | None] = (b"", None)  # the file's last content and the count it names

    def current(self) -> object:
        """The store's ``schema_stamp``: the file's content once this process loaded what it names."""
        content = self.file.stamp()
        if content is None:
            return None  # no change announced since the file was removed (or ever)
        if content is not self._parsed[0]:
            self._parsed = (content, _count(content))
        announced = self._parsed[1]
        return content if announced is not None and announced <= self._seen else object()

    async def setup(self, conn: AsyncConnection) -> None:
        """At open, in a write transaction (no other writer can be mid-change): create the count, and repair a
        file naming a count that never committed (its writer failed or died before the COMMIT)."""
        for statement in _CREATE:
            await conn.exec_driver_sql(statement)
        count = int((await conn.execute(_READ)).scalar_one())
        content = self.file.stamp()
        if content is not None and _count(content) != count:
            self._publish(count)

    async def announce(self, conn: AsyncConnection) -> None:
        """In the changing transaction, before its COMMIT: count the change and tell every process."""
        self._publish(int((await conn.execute(_BUMP)).scalar_one()))

    async def before_load(self, conn: AsyncConnection) -> None:
        """Before a reload reads the schemas: they then hold at least every change this count includes."""
        self._seen = max(self._seen, int((await conn.execute(_READ)).scalar_one()))

    def _publish(self, count: int) -> None:
        self.file.replace(f"{count} {time.time_ns()}.{os.getpid()}.{id(self)}")


def _count(content: bytes) -> int | None:
    head = content.split(b" ", 1)[0]
    return int(head) if head.isdigit() and len(head) < 19 else None
