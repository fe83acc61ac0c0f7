"""Prebuilt reads on PostgreSQL sent straight to asyncpg: SQLAlchemy compiles each statement once, not per call.

A get by id or a plain indexed find is one prebuilt SELECT (see sqlcache). Executed through SQLAlchemy, each call
still costs a cache-key walk, an execution context, a greenlet hop and a CursorResult: about 0.1 ms of CPU, a
third of a whole get by id, against 0.03 ms for asyncpg's own prepared statement (measured on one connection,
5,000 calls). Here the statement is compiled once with the engine's dialect (numeric ``$n`` parameters), its bind
processors are looked up once, and the rows come from the same driver connection SQLAlchemy set its type codecs
on (JSONB decoded by the same deserializer), so they are the rows SQLAlchemy would hand back: this only runs for
statements whose column types SQLAlchemy passes through unchanged on asyncpg (checked once per statement).

Only autocommit connections use it: a transaction SQLAlchemy has not begun yet would not see a statement sent
behind its back. Reads run here on the read connections; single-row INSERTs (a plain create) on the single-write
ones, compiled once per (statement, column set). A statement the database refuses is run again through
SQLAlchemy, so errors surface exactly as before: a read has no effect to repeat, and a refused autocommit
INSERT wrote nothing (it was its own transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.storage.sqlbinds import Processor, positional_binds
from backend.storage.sqltables import UTCDateTime


class Plan:
    """One statement compiled for asyncpg: its SQL, its parameters in ``$n`` order, its column names (a SELECT)."""

    __slots__ = ("binds", "keys", "sql", "statement")

    def __init__(self, statement: sa.Select[Any] | sa.Insert, sql: str, binds: list[tuple[str, Any, Processor]],
                 keys: list[str]) -> None:
        self.statement = statement  # held, so the statement's id cannot be reused while the plan is cached
        self.sql = sql
        self.binds = binds  # (name, value compiled in or None, processor)
        self.keys = keys

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for name, fixed, process in self.binds:
            value = values.get(name, fixed)
            out.append(process(value) if process is not None else value)
        return out


class Rows:
    """What rows_from reads of a result: its column names, and its rows as value sequences."""

    __slots__ = ("_keys", "_records")

    def __init__(self, keys: list[str], records: list[asyncpg.Record]) -> None:
        self._keys, self._records = keys, records

    def keys(self) -> list[str]:
        return self._keys

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return iter(self._records)


def plan(statement: sa.Select[Any], dialect: Dialect) -> Plan | None:
    """The statement compiled for asyncpg, or None when it needs SQLAlchemy at run time (expanding
    parameters, computed parameters, columns whose values SQLAlchemy converts after the driver)."""
    if not all(_passes_through(column.type) for column in statement.selected_columns):
        return None
    compiled = statement.compile(dialect=dialect)
    binds = positional_binds(compiled, dialect)
    if binds is None:
        return None
    return Plan(statement, compiled.string, binds, [str(column.name) for column in statement.selected_columns])


def insert_plan(statement: sa.Insert, columns: Iterable[str], dialect: Dialect) -> Plan | None:
    """An INSERT of exactly ``columns`` (the keys it is executed with, as SQLAlchemy compiles it per call), or None
    when SQLAlchemy would add anything at run time (Python-side defaults, escaped parameter names)."""
    names = list(columns)
    compiled = statement.compile(dialect=dialect, column_keys=names)
    binds = positional_binds(compiled, dialect)
    if binds is None or compiled.escaped_bind_names or sorted(name for name, _, _ in binds) != sorted(names):
        return None
    return Plan(statement, compiled.string, binds, [])


def _passes_through(type_: Any) -> bool:
    """Types whose asyncpg values SQLAlchemy hands back unchanged: text, doubles, booleans, JSON (decoded by the
    codec SQLAlchemy installed on the connection) and UTCDateTime (asyncpg's timestamptz values are aware UTC)."""
    if isinstance(type_, sa.Float):
        return not type_.asdecimal
    return isinstance(type_, sa.String | sa.Boolean | sa.JSON | UTCDateTime)


async def fetch(conn: AsyncConnection, compiled: Plan, values: dict[str, Any]) -> Rows | None:
    """The rows of ``compiled``, or None when the database refused it (the caller runs it through SQLAlchemy)."""
    raw = _driver(conn)
    if raw is None:
        return None
    try:
        records = await raw.fetch(compiled.sql, *compiled.arguments(values))
    except (asyncpg.PostgresError, asyncpg.InterfaceError):  # a lost connection too: SQLAlchemy maps it (sqlfaults)
        return None
    return Rows(compiled.keys, records)


async def execute(conn: AsyncConnection, compiled: Plan, values: dict[str, Any]) -> bool:
    """Run a write on an autocommit connection; False when the database refused it (it wrote nothing)."""
    raw = _driver(conn)
    if raw is None:
        return False
    try:
        await raw.execute(compiled.sql, *compiled.arguments(values))
    except asyncpg.PostgresError:
        return False
    return True


def _driver(conn: AsyncConnection) -> asyncpg.Connection | None:
    """The asyncpg connection under ``conn``, or None when SQLAlchemy would first have to reconnect (an
    invalidated connection: its own path does that). ``get_raw_connection`` reads the same attribute through a
    greenlet hop, for that reconnect: 5-10 us per statement on a connection that needs none."""
    sync = conn.sync_connection
    if sync is None or sync.invalidated or sync.closed:
        return None
    driver: asyncpg.Connection | None = sync.connection.driver_connection
    return driver
