"""Autocommit connections kept open between units of work, instead of a pool checkout each time.

SQLAlchemy's async ``connect()`` and ``close()`` (a pool checkout and a
checkin, each run through a greenlet) cost about 50 us of CPU: a tenth of a
get by id. An autocommit connection carries no transaction from one use to
the next, so one that comes back healthy is handed to the next caller as it
is. A connection that saw its caller cancelled (it may be mid-query), or that
SQLAlchemy invalidated (the database went away), is closed instead. The
engine's own pool still opens the connections and bounds their number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class ConnectionShelf:
    def __init__(self, engine: AsyncEngine, size: int, **options: Any) -> None:
        self.engine = engine
        self.size = size  # at most this many wait on the shelf; more in use at once are closed on return
        self.options = options  # execution options every connection gets once, e.g. isolation_level
        self._idle: list[AsyncConnection] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        conn = self._idle.pop() if self._idle else await self._open()
        try:
            yield conn
        except Exception:  # an error of the caller's, or of a statement: autocommit leaves nothing open
            await self._put_back(conn)
            raise
        except BaseException:  # cancelled, perhaps mid-statement: the connection's state is unknown
            await conn.close()
            raise
        await self._put_back(conn)

    async def close(self) -> None:
        """Close the shelved connections (before the engine is disposed: they are checked out of its pool)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def _open(self) -> AsyncConnection:
        conn = await self.engine.connect()
        return await conn.execution_options(**self.options) if self.options else conn

    async def _put_back(self, conn: AsyncConnection) -> None:
        if conn.invalidated or conn.closed or len(self._idle) >= self.size:
            await conn.close()
            return
        if conn.in_transaction():  # SQLAlchemy's logical transaction only: in autocommit the database has none
            await conn.rollback()
        self._idle.append(conn)
