"""The one place that says which database failures mean "unreachable or busy: try again", for both engines.

Each engine gets two listeners. ``handle_error`` sees every driver error (of a statement, a commit, or opening a
connection) before SQLAlchemy raises it: a lost or refused connection (PostgreSQL killed the backend, the server
restarts or refuses connections, asyncpg's socket closed) and a SQLite file that stayed locked past its busy
timeout become ``DatabaseUnavailable`` (Parse code 100, answered 503 with Retry-After), with the connection
invalidated so that the pool opens a new one, instead of code 1. ``checkout`` drops a pooled connection that the
driver already knows is closed (the server's goodbye arrived while it sat in the pool): the pool opens another
and the caller never sees an error. Both cost nothing on a healthy connection: no round trip, as a pre-ping
would take on every checkout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.errors import DatabaseUnavailable

# SQLSTATE classes of a connection that is gone or refused: 08 connection exception, 57P operator intervention
# (admin shutdown, crash shutdown, cannot connect now), 53300 too many connections, 55000 + "accepting"
# (a database closed to connections: ALLOW_CONNECTIONS false)
_GONE_STATES = ("08", "57P", "53300")
_SQLITE_BUSY = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes; extended ones add high bits)


def install(engine: AsyncEngine) -> None:
    """Watch ``engine``'s errors and checkouts (see the module docstring)."""
    event.listen(engine.sync_engine, "handle_error", _on_error)
    event.listen(engine.sync_engine.pool, "checkout", _on_checkout)


def is_closed(conn: AsyncConnection) -> bool:
    """True when the driver already knows ``conn``'s socket is closed (asyncpg); never a round trip."""
    record = conn.sync_connection.connection if conn.sync_connection is not None else None
    driver = getattr(record, "driver_connection", None) if record is not None else None
    closed = getattr(driver, "is_closed", None)
    return bool(closed()) if callable(closed) else False


def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    closed = getattr(getattr(dbapi_connection, "driver_connection", None), "is_closed", None)
    if callable(closed) and closed():
        raise DisconnectionError("the server closed this pooled connection")  # the pool opens a new one


def _on_error(context: ExceptionContext) -> None:
    if context.is_pre_ping or not _unavailable(context.original_exception, context.is_disconnect):
        return
    if any(isinstance(cause, asyncio.CancelledError) for cause in _chain(context.original_exception)):
        return  # the caller was cancelled mid-statement: that is not the database's failure to report
    # SQLAlchemy invalidates a lost connection, so the pool opens a new one; a locked SQLite file's is fine
    context.is_disconnect = not _sqlite_busy(context.original_exception)
    raise DatabaseUnavailable() from context.sqlalchemy_exception or context.original_exception


def _unavailable(error: BaseException, disconnect: bool) -> bool:
    if disconnect or _sqlite_busy(error) or isinstance(error, OSError):
        return True
    for cause in _chain(error):
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and (state.startswith(_GONE_STATES) or (
                state == "55000" and "accepting connections" in str(cause))):
            return True
        if type(cause).__name__ in ("ConnectionDoesNotExistError", "ConnectionFailureError"):
            return True
    return False


def _sqlite_busy(error: BaseException) -> bool:
    return any(isinstance(cause, sqlite3.OperationalError)
               and (getattr(cause, "sqlite_errorcode", None) or 0) & 0xFF in _SQLITE_BUSY for cause in _chain(error))


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and its causes (the asyncpg error under SQLAlchemy's adapter), at most a few deep."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(found) < 5:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found
