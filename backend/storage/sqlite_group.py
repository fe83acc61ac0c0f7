"""Group commit on SQLite: concurrent single-row INSERTs share one transaction and one trip to the driver thread.

A plain create is one INSERT that commits on its own. Alone, each costs a pool checkout, a trip to aiosqlite's
thread for the statement, trips to reset the connection, and a commit (a WAL append and a lock cycle in
SQLite). Here the INSERTs that arrive while the writer is busy wait together; the writer then sends all of them
in one trip: ``BEGIN IMMEDIATE``, each INSERT, ``COMMIT``. Each is still atomic and independent:

- an INSERT SQLite refuses (a unique violation) undoes only itself, and the others commit (SQLite rolls back
  just the failed statement); that write is reported refused, and its caller runs it again through SQLAlchemy,
  where it raises the error it always raised;
- an error that ends the whole transaction (a full disk, a busy file, a failed COMMIT) reports every write
  of the group refused, none acknowledged, and each runs again on its own, as before;
- a write is acknowledged only once the COMMIT that holds it returned: durability is the connection's
  ``PRAGMA synchronous`` (NORMAL in WAL, see sqlite.py), exactly as for a statement that commits alone.

The writer takes the store's write lock for each group, so groups and this process's transactions never
overlap; other processes on the file wait for it as for any writer (busy_timeout).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

GROUP_LIMIT = 256  # writes per transaction at most: a huge group would hold the file's write lock long
_Write = tuple[str, tuple[Any, ...], "asyncio.Future[bool]"]
# what one INSERT may raise: SQLite's refusals, and sqlite3's own before SQLite sees the statement (a value it
# cannot bind: a lone surrogate is a UnicodeEncodeError, an int past 64 bits an OverflowError)
_REFUSED = (sqlite3.Error, ValueError, OverflowError)


def _commit_group(raw: sqlite3.Connection, writes: list[tuple[str, tuple[Any, ...]]]) -> list[bool]:
    """In aiosqlite's thread: the writes in one transaction; per write, whether it is committed."""
    done = [False] * len(writes)
    cursor = raw.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        for index, (sql, arguments) in enumerate(writes):
            try:
                cursor.execute(sql, arguments)
                done[index] = True
            except _REFUSED:
                if not raw.in_transaction:  # SQLite ended the whole transaction: nothing of it stays
                    return [False] * len(writes)
        cursor.execute("COMMIT")
    except BaseException as error:  # nothing of an unfinished group stays, nor its transaction on the connection
        if raw.in_transaction:
            raw.rollback()
        if isinstance(error, sqlite3.Error):
            return [False] * len(writes)
        raise
    finally:
        cursor.close()
    return done


class GroupCommit:
    """The one writer of single-row INSERTs for a store: ``insert`` waits for the commit that holds it."""

    def __init__(self, connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
                 lock: asyncio.Lock) -> None:
        self._connect = connect  # a write connection, under nothing else's lock
        self._lock = lock
        self._pending: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0  # transactions sent so far (each holds one or more writes)

    async def insert(self, sql: str, arguments: tuple[Any, ...]) -> bool:
        """True once the INSERT is committed; False when it was refused and nothing of it stays."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((sql, arguments, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await done

    async def close(self) -> None:
        """Let the writes already handed in finish."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        try:
            while self._pending:
                async with self._lock, self._connect() as conn:
                    await self._commit_some(conn)
        finally:
            self._writer = None
            for _, _, done in self._pending:  # only if the writer itself failed: those run again on their own
                _settle(done, False)
            self._pending.clear()

    async def _commit_some(self, conn: AsyncConnection) -> None:
        group, self._pending = self._pending[:GROUP_LIMIT], self._pending[GROUP_LIMIT:]
        adapted = (await conn.get_raw_connection()).dbapi_connection
        aio = adapted._connection  # type: ignore[union-attr]  # the aiosqlite.Connection (see sqlite_trips)
        outcome: list[bool] | None = None
        self.groups += 1
        try:
            outcome = await aio._execute(_commit_group, aio._conn, [(sql, args) for sql, args, _ in group])
        except Exception:  # a closed connection ran nothing: every write runs again on its own
            outcome = [False] * len(group)
        finally:
            for index, (_, _, done) in enumerate(group):
                if outcome is None:  # cancelled mid-trip (the loop is stopping): the outcome is unknown
                    done.cancel()
                else:
                    _settle(done, outcome[index])


def _settle(done: asyncio.Future[bool], committed: bool) -> None:
    if not done.done():  # its caller may have been cancelled meanwhile; the outcome stands either way
        done.set_result(committed)
