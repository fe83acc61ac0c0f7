"""Prebuilt statements on SQLite run with the sqlite3 module's own cursor: SQLAlchemy compiles each one once.

A get by id, a plain indexed find and a plain create are each one prebuilt statement (see sqlcache). Executed
through SQLAlchemy, each call still pays a cache-key walk, an execution context, a greenlet hop and a
CursorResult. Here the statement is compiled once with the engine's dialect (``?`` parameters), and the bind
and result processors of its columns are looked up once. The statement then runs, in the thread aiosqlite
owns, on the very sqlite3 connection SQLAlchemy opened (its functions and pragmas set), and the values go
through the same processors SQLAlchemy would apply: the rows are the rows SQLAlchemy would hand back.

The caller runs a statement that fails here again through SQLAlchemy, so errors surface exactly as before:
a read has no effect to repeat, and a refused write was undone (see sqlite_group).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.storage.sqlbinds import Processor, expanded_binds, positional_binds

BUSY_TIMEOUT_MS = 10_000  # how long a statement in the driver's thread waits for a lock (PRAGMA busy_timeout)
# virtual machine steps a read may take on the event loop before it gives way to the thread: well under a
# millisecond, a hundred rows by an index (about 1,400 steps)
INLINE_STEPS = 5_000
# and at most this long: one step may copy a whole record (an ORDER BY puts each row in the sorter), so 5,000
# steps over rows of 2 MB held the loop for a second; the progress handler looks at the clock every few steps
INLINE_SECONDS = 0.002
_CHECK_EVERY = 100  # steps between two looks (a get by id takes about 250)
# text and blob bytes a read may copy into Python on the event loop: steps count work, not bytes (100 rows of
# 2 MB are a few hundred steps, and copying them held every other request for about a second)
INLINE_BYTES = 256 * 1024


class Plan:
    """One statement compiled for sqlite3: its SQL, its parameters in ``?`` order, its columns (a SELECT)."""

    __slots__ = ("binds", "keys", "results", "sql")

    def __init__(self, sql: str, binds: list[tuple[str, Any, Processor]], keys: list[str],
                 results: list[Processor]) -> None:
        self.sql = sql
        self.binds = binds  # (name, value compiled in or None, processor)
        self.keys = keys
        self.results = results  # per selected column: the processor SQLAlchemy applies to its value

    def arguments(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, fixed, process in self.binds:
            value = values.get(name, fixed)
            out.append(process(value) if process is not None else value)
        return tuple(out)

    def decode(self, rows: list[tuple[Any, ...]]) -> Rows:
        """The driver's rows with each column's result processor applied (as SQLAlchemy's Row would hold)."""
        active = [(index, process) for index, process in enumerate(self.results) if process is not None]
        if not active:
            return Rows(self.keys, rows)
        decoded = []
        for row in rows:
            values = list(row)
            for index, process in active:
                values[index] = process(values[index])
            decoded.append(values)
        return Rows(self.keys, decoded)


class Rows:
    """What rows_from reads of a result: its column names, and its rows as value sequences."""

    __slots__ = ("_keys", "_rows")

    def __init__(self, keys: list[str], rows: Sequence[Sequence[Any]]) -> None:
        self._keys, self._rows = keys, rows

    def keys(self) -> list[str]:
        return self._keys

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return iter(self._rows)


class Plans:
    """Each statement's plan, compiled once per (statement, column set: an INSERT's columns are its keys)."""

    def __init__(self, dialect: Dialect, size: int = 4096) -> None:
        self._dialect = dialect
        self._size = size
        self._plans: dict[tuple[int, tuple[str, ...]], tuple[Any, Plan | None]] = {}

    def get(self, statement: sa.Select[Any] | sa.Insert | sa.Update, columns: tuple[str, ...] = ()) -> Plan | None:
        key = (id(statement), columns)
        found = self._plans.get(key)
        if found is not None and found[0] is statement:  # the statement itself is held: its id is not reused
            return found[1]
        if len(self._plans) >= self._size:  # bounded: when full it starts over
            self._plans.clear()
        plan = (select_plan(statement, self._dialect) if isinstance(statement, sa.Select)
                else insert_plan(statement, columns, self._dialect))
        self._plans[key] = (statement, plan)
        return plan


def select_plan(statement: sa.Select[Any], dialect: Dialect) -> Plan | None:
    """The SELECT compiled for sqlite3, or None when it needs SQLAlchemy at run time (expanding or computed
    parameters, a column that is not a plain table column)."""
    columns = list(statement.selected_columns)
    if not all(isinstance(column, sa.Column) for column in columns):
        return None
    compiled = statement.compile(dialect=dialect)
    sql, binds = compiled.string, positional_binds(compiled, dialect)
    if binds is None and (expanded := expanded_binds(compiled, dialect)) is not None:
        sql, binds = expanded  # a reader's ACL: its role names bound one by one (the statement is per set)
    if binds is None:
        return None
    results: list[Processor] = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                                for column in columns]
    return Plan(sql, binds, [str(column.name) for column in columns], results)


def insert_plan(statement: sa.Insert | sa.Update, columns: Iterable[str], dialect: Dialect) -> Plan | None:
    """An INSERT (or an UPDATE by a bound objectId) of exactly ``columns`` (the keys it is executed with, as
    SQLAlchemy compiles it per call), or None when SQLAlchemy would add anything at run time (Python-side
    defaults, onupdate values, escaped parameter names)."""
    names = list(columns)
    compiled = statement.compile(dialect=dialect, column_keys=names)
    binds = positional_binds(compiled, dialect)
    if binds is None or compiled.escaped_bind_names or sorted(name for name, _, _ in binds) != sorted(names):
        return None
    return Plan(compiled.string, binds, [], [])


def _fetch(raw: sqlite3.Connection, sql: str, arguments: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """In aiosqlite's thread: the statement's rows (one cursor, closed before returning)."""
    cursor = raw.cursor()
    try:
        return cursor.execute(sql, arguments).fetchall()
    finally:
        cursor.close()


def _fetch_small(raw: sqlite3.Connection, sql: str, arguments: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
    """The statement's rows, or None once their text and blobs pass INLINE_BYTES (at most one row past it read)."""
    cursor = raw.cursor()
    try:
        rows, size = [], 0
        for row in cursor.execute(sql, arguments):
            rows.append(row)
            for value in row:  # a plain loop: a generator per row cost three times as much (0.75 us, 8 columns)
                kind = type(value)
                if kind is str or kind is bytes:
                    size += len(value)
            if size > INLINE_BYTES:
                return None
        return rows
    finally:
        cursor.close()


def _budget() -> Callable[[], bool]:
    """A progress handler that interrupts the statement (a true answer) past INLINE_STEPS or INLINE_SECONDS."""
    deadline, looks = time.perf_counter() + INLINE_SECONDS, INLINE_STEPS // _CHECK_EVERY

    def spent() -> bool:
        nonlocal looks
        looks -= 1
        return looks <= 0 or time.perf_counter() > deadline

    return spent


def _inline(raw: sqlite3.Connection, sql: str, arguments: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
    """On the event loop: the rows, or None when the read would wait for a lock, run past INLINE_STEPS or
    INLINE_SECONDS, or copy more than INLINE_BYTES."""
    raw.execute("PRAGMA busy_timeout = 0")
    raw.set_progress_handler(_budget(), _CHECK_EVERY)
    try:
        return _fetch_small(raw, sql, arguments)
    except sqlite3.Error:  # busy, interrupted, or refused: the thread decides, as it always did
        return None
    finally:
        raw.set_progress_handler(None, 0)
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


async def fetch(conn: AsyncConnection, plan: Plan, values: dict[str, Any]) -> Rows | None:
    """The rows of ``plan``, or None when sqlite3 refused it. Tried on the loop first: a short read (an
    indexed lookup) costs less than the trip to the connection's thread (about 8 us of CPU against 70, 5,000
    gets by id). It gives way to the thread the moment it would wait (``busy_timeout`` 0: in WAL a reader
    waits for nobody but a rare recovery), run long (a progress handler stops it after INLINE_STEPS virtual
    machine steps or INLINE_SECONDS: a get by id takes about 250 steps, ten rows by an index about 150) or copy
    big rows (INLINE_BYTES). The connection is this caller's alone (see sqlshelf), with nothing of it running in its
    thread meanwhile."""
    adapted = (await conn.get_raw_connection()).dbapi_connection
    aio = adapted._connection  # type: ignore[union-attr]  # the aiosqlite.Connection (see sqlite_trips)
    arguments = plan.arguments(values)
    rows = _inline(aio._conn, plan.sql, arguments)
    if rows is None:
        try:
            rows = await aio._execute(_fetch, aio._conn, plan.sql, arguments)
        except sqlite3.Error:
            return None
    return plan.decode(rows)
