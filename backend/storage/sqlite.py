"""Embedded SQLite adapter: one file, WAL, writes serialised, Python functions for the rest.

Where SQLite's SQL cannot say what a Parse operator means (regex, geo, JSON
array membership of non-strings), a Python function registered on each
connection does it, with the very code the in-memory matcher uses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from backend import jsontext, operators, wire
from backend.storage import sqlfaults, sqlite_direct
from backend.storage.protocols import Row
from backend.storage.schema_file import SchemaFile
from backend.storage.sqlbool import any_of
from backend.storage.sqlite_group import GroupCommit
from backend.storage.sqlite_stamp import SchemaStamp
from backend.storage.sqlite_trips import OneTripDBAPI, held_writes, hold
from backend.storage.sqlquery import Expr
from backend.storage.sqlshelf import ConnectionShelf
from backend.storage.sqlstore import SqlStore

_SQLITE_KINDS = {
    "null": ("null",), "string": ("text",), "number": ("integer", "real"),
    "boolean": ("true", "false"), "array": ("array",), "object": ("object",),
}


def _path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{key}"' for key in path)


def _as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class SqliteDialect:
    def json_path(self, column: Expr, path: tuple[str, ...]) -> Expr:
        return sa.type_coerce(column, sa.Text()).op("->")(sa.literal(_path(path)))

    def json_type_is(self, value: Expr, kinds: tuple[str, ...]) -> Expr:
        names = [name for kind in kinds for name in _SQLITE_KINDS[kind]]
        return sa.func.json_type(value).in_(names)

    def json_scalar(self, value: Expr, kind: str) -> Expr:
        return sa.type_coerce(value, sa.Text()).op("->>")(sa.literal("$"))

    def json_literal(self, value: Any) -> Expr:
        return sa.func.json(sa.literal(_as_json(value)))

    def json_equals(self, value: Expr, literal: Any) -> Expr:
        # key order and 1 vs 1.0 must not matter: SQLite's json() keeps both, so compare in Python
        return sa.func.ballast_json_equals(value, _as_json(literal)) == 1

    def in_values(self, column: Expr, values: list[Any]) -> Expr:
        return column.in_(values)  # one bind parameter each; the query limits keep lists under SQLite's 32,766

    def array_contains_any(self, column: Expr, values: list[Any]) -> Expr:
        scalars = [value for value in values if operators.is_scalar(value)]
        others = [value for value in values if not operators.is_scalar(value)]
        each = _each(column)
        tests: list[Expr] = []
        if scalars:
            tests.append(sa.exists(sa.select(1).select_from(each).where(_element_in(each, scalars))))
        if others:
            tests.append(sa.func.ballast_array_contains_any(column, _as_json(others)) == 1)
        return any_of(tests)

    def array_contains_all(self, column: Expr, values: list[Any]) -> Expr:
        # one function call with the whole list as one JSON parameter (the matcher's own code): an EXISTS per
        # value made 20,000 values a 20,000-deep expression tree that SQLite refused after seconds of work
        return sa.func.ballast_array_contains_all(column, _as_json(values)) == 1

    def array_contained_by(self, column: Expr, values: list[Any]) -> Expr:
        if not all(operators.is_scalar(value) for value in values):
            return sa.func.ballast_array_contained_by(column, _as_json(values)) == 1
        each = _each(column)
        allowed = sa.func.coalesce(_element_in(each, values), sa.false())
        stray = sa.exists(sa.select(1).select_from(each).where(sa.not_(allowed)))
        return sa.and_(sa.func.json_type(column) == "array", sa.not_(stray))

    def regex(self, column: Expr, pattern: str, ignore_case: bool, multiline: bool) -> Expr:
        return sa.func.ballast_regex(column, pattern, int(ignore_case), int(multiline)) == 1

    def text_search(self, column: Expr, terms: tuple[str, ...], case_sensitive: bool) -> Expr:
        return sa.func.ballast_text_search(column, _as_json(list(terms))) == 1

    def geo_lat_lon(self, column: Expr) -> tuple[Expr, Expr]:
        return sa.func.json_extract(column, "$.latitude"), sa.func.json_extract(column, "$.longitude")

    def geo_distance(self, column: Expr, point: wire.GeoPoint) -> Expr:
        lat, lon = self.geo_lat_lon(column)
        return sa.func.ballast_geo_distance(lat, lon, point.latitude, point.longitude)

    def polygon_contains(self, polygon: Expr, point_lat: Expr, point_lon: Expr) -> Expr:
        return sa.func.ballast_polygon_contains(polygon, point_lat, point_lon) == 1


def _each(column: Expr) -> Any:
    return sa.func.json_each(column).table_valued("value", "type").alias("each")


def _element_in(each: Any, values: list[Any]) -> Expr:
    """The json_each element equals one of the scalar JSON values (1 == 1.0, true != 1)."""
    strings = [value for value in values if isinstance(value, str)]
    numbers = [value for value in values if isinstance(value, int | float) and not isinstance(value, bool)]
    tests: list[Expr] = []
    if strings:
        tests.append(sa.and_(each.c.type == "text", each.c.value.in_(strings)))
    if numbers:
        tests.append(sa.and_(each.c.type.in_(("integer", "real")), each.c.value.in_(numbers)))
    kinds = [("true" if value else "false") if isinstance(value, bool) else "null"
             for value in values if isinstance(value, bool) or value is None]
    if kinds:
        tests.append(each.c.type.in_(sorted(set(kinds))))
    return any_of(tests)


def _register_functions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("ballast_json_equals", 2, operators.sqlite_json_equals, deterministic=True)
    dbapi_connection.create_function("ballast_regex", 4, operators.sqlite_regex, deterministic=True)
    dbapi_connection.create_function("ballast_text_search", 2, operators.sqlite_text_search, deterministic=True)
    dbapi_connection.create_function(
        "ballast_array_contains_any", 2, operators.sqlite_contains_any, deterministic=True
    )
    dbapi_connection.create_function(
        "ballast_array_contains_all", 2, operators.sqlite_contains_all, deterministic=True
    )
    dbapi_connection.create_function(
        "ballast_array_contained_by", 2, operators.sqlite_contained_by, deterministic=True
    )
    dbapi_connection.create_function("ballast_geo_distance", 4, operators.sqlite_geo_distance, deterministic=True)
    dbapi_connection.create_function(
        "ballast_polygon_contains", 3, operators.sqlite_polygon_contains, deterministic=True
    )
    cursor = dbapi_connection.cursor()
    pragmas = ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={sqlite_direct.BUSY_TIMEOUT_MS}",
               "foreign_keys=ON")
    for pragma in pragmas:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # we issue BEGIN ourselves (see _begin) so SQLite's own transaction handling stays out of the way
    dbapi_connection.isolation_level = None


ONE_TRIP = OneTripDBAPI()  # every engine's connections make one trip to aiosqlite's thread per statement


class SqliteStore(SqlStore):
    """SQLite file store; in-process writes take one lock, so they queue instead of failing busy."""

    name = "sqlite"
    statement_rollback = True  # a failed statement is undone alone; its transaction stays usable
    single_write_inserts_only = True  # a single-write unit's one write is an INSERT, group-committed (see below)

    def __init__(self, url: str) -> None:
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error's text (which the log keeps) never holds a token, hash or stored answer
        engine = create_async_engine(url, pool_size=8, max_overflow=8, module=ONE_TRIP,
                                     json_deserializer=jsontext.loads, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _register_functions)
        event.listen(engine.sync_engine, "begin", _begin)
        super().__init__(engine, SqliteDialect())
        self._write_lock = asyncio.Lock()
        # Reads get their own pool of connections that are query_only for life and run each statement
        # in its own implicit transaction (no BEGIN/COMMIT, no rollback on return: autocommit), as reads
        # on PostgreSQL do; toggling the pragma around each read cost six aiosqlite thread hops a request.
        self._reader = create_async_engine(url, pool_size=8, max_overflow=8, skip_autocommit_rollback=True,
                                           module=ONE_TRIP, json_deserializer=jsontext.loads,
                                           hide_parameters=True)
        event.listen(self._reader.sync_engine, "connect", _register_reader)
        sqlfaults.install(self._reader)
        self._reads = ConnectionShelf(self._reader, 16)  # kept between reads (see sqlshelf); the pool's 8 + 8
        # processes sharing the file learn of schema changes from a small file beside it, replaced by each
        # change before its commit, checked against the database's own count (see sqlite_stamp)
        self._stamp = SchemaStamp(SchemaFile(Path(database + "-schema"))) if database and database != ":memory:" \
            else None
        self._plans = sqlite_direct.Plans(self.engine.dialect)  # prebuilt statements for sqlite3 (sqlite_direct)
        # write connections kept between units (see sqlshelf: no pool checkout, no reset trip on return); one at
        # a time writes in this process, and the group commit's writer holds the other between groups
        self._writes = ConnectionShelf(self.engine, 2, sqlite_begin="IMMEDIATE")
        self._group = GroupCommit(self._writes.connection, self._write_lock)

    async def close(self) -> None:
        await self._group.close()
        await self._writes.close()
        await self._reads.close()
        await self._reader.dispose()
        await super().close()

    async def open(self) -> None:
        await super().open()
        if self._stamp is not None:
            async with self.connect(read_only=False) as conn:  # BEGIN IMMEDIATE: no other writer mid-change
                await self._stamp.setup(conn)

    def schema_stamp(self) -> object:
        return super().schema_stamp() if self._stamp is None else self._stamp.current()

    async def announce_schema_change(self, conn: AsyncConnection) -> object:
        if self._stamp is not None:
            await self._stamp.announce(conn)
        return None

    async def before_schema_load(self, conn: AsyncConnection) -> None:
        if self._stamp is not None:
            await self._stamp.before_load(conn)

    def held_writes(self, conn: AsyncConnection) -> AbstractAsyncContextManager[None]:
        return held_writes(conn)

    async def run_read(self, conn: AsyncConnection, statement: sa.Select[Any], values: dict[str, Any] | None, *,
                       prebuilt: bool = False) -> Any:
        if prebuilt and conn.engine is self._reader:  # autocommit reads: no transaction SQLAlchemy began can miss it
            plan = self._plans.get(statement)
            if plan is not None and (rows := await sqlite_direct.fetch(conn, plan, values or {})) is not None:
                return rows
        return await super().run_read(conn, statement, values, prebuilt=prebuilt)

    async def run_insert(self, conn: AsyncConnection, statement: sa.Insert, values: dict[str, Any], *,
                         autocommit: bool) -> None:
        if not autocommit:
            await super().run_insert(conn, statement, values, autocommit=False)
            return
        # a single-write unit reads on a read connection; its INSERT joins the next group commit
        plan = self._plans.get(statement, tuple(values))
        if plan is not None and await self._group.insert(plan.sql, plan.arguments(values)):
            return
        async with self._write_alone() as alone:  # refused there (nothing stays): SQLAlchemy raises its error
            await alone.execute(statement, values)

    async def run_insert_many(self, conn: AsyncConnection, statement: sa.Insert, names: tuple[str, ...],
                              rows: list[Row], updates: list[tuple[sa.Update, Row]]) -> None:
        # SQLAlchemy builds and processes each statement's and each row's parameters (most of an audit append's
        # CPU); a plan's positional arguments apply the same bind processors. The updates are held and go to
        # SQLite in the insert's trip, before it (as held_writes sends them), and the rows to executemany.
        plan = self._plans.get(statement, names)
        held = [(self._plans.get(update, tuple(sorted(values))), values) for update, values in updates]
        if plan is None or any(update_plan is None for update_plan, _ in held):
            await super().run_insert_many(conn, statement, names, rows, updates)
            return
        raw = (await conn.get_raw_connection()).dbapi_connection
        for update_plan, values in held:
            assert update_plan is not None
            hold(raw, update_plan.sql, update_plan.arguments(values))
        # names is every row's keys together: a row without one of them gets NULL there (as in SQLAlchemy's path)
        whole = [row if len(row) == len(names) else {name: row.get(name) for name in names} for row in rows]
        await conn.exec_driver_sql(plan.sql, [plan.arguments(row) for row in whole])

    @asynccontextmanager
    async def connect(self, *, read_only: bool, single_write: bool = False) -> AsyncIterator[AsyncConnection]:
        if read_only or single_write:  # a single write's one INSERT goes to the group commit (run_insert)
            async with self._reads.connection() as conn:
                yield conn
            return
        # BEGIN IMMEDIATE, sent with the first statement (see _begin)
        async with self._write_lock, self._writes.connection() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def _write_alone(self) -> AsyncIterator[AsyncConnection]:
        """A write connection whose statements commit one by one (no BEGIN / COMMIT)."""
        async with self._write_lock, self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def _register_reader(dbapi_connection: Any, record: Any) -> None:
    _register_functions(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a read unit cannot write, even by mistake
    cursor.close()


def _begin(conn: Any) -> None:
    """Our BEGIN (IMMEDIATE for the shelved write connections), sent in the trip of the first statement."""
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    hold(conn.connection.dbapi_connection, f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")
