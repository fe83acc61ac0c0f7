"""Autocommit connections kept open between units of work, instead of a pool checkout each time.

SQLAlchemy's async ``connect()`` and ``close()`` (a pool checkout and a
checkin, each run through a greenlet) cost about 50 us of CPU: a tenth of a
get by id. An autocommit connection carries no transaction from one use to
the next, so one that comes back healthy is handed to the next caller as it
is. A connection that saw its caller cancelled (it may be mid-query), or that
SQLAlchemy invalidated (the database went away), or that the driver knows is
closed (the server ended it while it sat here), is closed instead. The
shelf holds at most ``size`` connections, idle or in use; a caller beyond that
waits its turn, first come first served, and a returning connection goes to
the longest waiter. (Handing it to whoever asked last starved the callers
queued in the engine's pool: with more readers than connections, half of the
clients of a benchmark got no answer until the others stopped.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.storage import sqlfaults

# what a waiter is handed: a connection, or None for a free place to open one in
_Turn = AsyncConnection | None


class ConnectionShelf:
    def __init__(self, engine: AsyncEngine, size: int, **options: Any) -> None:
        self.engine = engine
        self.size = size  # connections this shelf holds at most, idle or in use (within the engine's pool)
        self.options = options  # execution options every connection gets once, e.g. isolation_level
        self._idle: list[AsyncConnection] = []
        self._count = 0  # connections open now, idle or in use
        self._waiters: deque[asyncio.Future[_Turn]] = deque()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        conn = await self._take()
        try:
            yield conn
        except Exception:  # an error of the caller's, or of a statement: autocommit leaves nothing open
            await self._put_back(conn)
            raise
        except BaseException:  # cancelled, perhaps mid-statement: the connection's state is unknown
            await self._discard(conn)
            raise
        await self._put_back(conn)

    async def close(self) -> None:
        """Close the shelved connections (before the engine is disposed: they are checked out of its pool)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            self._count -= 1
            await conn.close()

    async def _take(self) -> AsyncConnection:
        while self._idle and not self._waiters:
            conn = self._idle.pop()
            if not sqlfaults.is_closed(conn):
                return conn
            await self._discard(conn, invalidate=True)  # the server said goodbye while it sat here
        if self._count < self.size:
            self._count += 1
            return await self._open_counted()
        waiter: asyncio.Future[_Turn] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            turn = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a turn as it was cancelled: pass it on
                turn = waiter.result()
                if turn is None:
                    self._count -= 1  # the place counted for this waiter
                self._pass_on(turn)
            else:
                self._waiters.remove(waiter)
            raise
        return turn if turn is not None else await self._open_counted()

    async def _open_counted(self) -> AsyncConnection:
        """Open a connection for a place already counted; the place is given up should opening fail."""
        try:
            conn = await self.engine.connect()
        except BaseException:
            self._count -= 1
            self._pass_on(None)
            raise
        if not self.options:
            return conn
        try:
            return await conn.execution_options(**self.options)
        except BaseException:  # not half-made: the connection is closed and its place given up
            await self._discard(conn)
            raise

    def _pass_on(self, turn: _Turn) -> None:
        """A connection (or, None, a free place) to the longest waiter; else back on the shelf (or uncounted)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                if turn is None:
                    self._count += 1
                waiter.set_result(turn)
                return
        if turn is not None:
            self._idle.append(turn)

    async def _put_back(self, conn: AsyncConnection) -> None:
        if conn.invalidated or conn.closed:
            await self._discard(conn)
            return
        if conn.in_transaction():  # SQLAlchemy's logical transaction only: in autocommit the database has none
            await conn.rollback()
        self._pass_on(conn)

    async def _discard(self, conn: AsyncConnection, invalidate: bool = False) -> None:
        self._count -= 1
        self._pass_on(None)
        if invalidate:
            await conn.invalidate()
        await conn.close()
