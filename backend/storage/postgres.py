"""PostgreSQL adapter (asyncpg): JSONB operators, POSIX regex, and two SQL functions for geo.

No PostGIS needed: distances and polygon tests are small SQL functions whose
arithmetic matches ``backend.operators`` (haversine, ray casting).
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from backend import jsontext, operators, wire
from backend.storage import pg_direct, pg_rules, sqlfaults
from backend.storage.sqlbool import any_of
from backend.storage.sqlquery import Expr
from backend.storage.sqlshelf import ConnectionShelf
from backend.storage.sqlstore import SqlStore

_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION ballast_geo_distance(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
    RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT 2 * asin(least(1.0, sqrt(
        power(sin((radians(lat2) - radians(lat1)) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))))
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION ballast_polygon_contains(polygon jsonb, lat float8, lon float8)
    RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
      coords jsonb := polygon -> 'coordinates';
      n int := jsonb_array_length(coords);
      inside boolean := false;
      i int; lat_a float8; lon_a float8; lat_b float8; lon_b float8; cross_ float8;
    BEGIN
      FOR i IN 0 .. n - 1 LOOP
        lat_a := (coords -> i ->> 0)::float8; lon_a := (coords -> i ->> 1)::float8;
        lat_b := (coords -> ((i + 1) % n) ->> 0)::float8; lon_b := (coords -> ((i + 1) % n) ->> 1)::float8;
        cross_ := (lat - lat_a) * (lon_b - lon_a) - (lon - lon_a) * (lat_b - lat_a);
        IF abs(cross_) <= 1e-12 AND lat BETWEEN least(lat_a, lat_b) AND greatest(lat_a, lat_b)
           AND lon BETWEEN least(lon_a, lon_b) AND greatest(lon_a, lon_b) THEN
          RETURN true;
        END IF;
        IF (lon_a > lon) <> (lon_b > lon)
           AND lat < lat_a + (lon - lon_a) * (lat_b - lat_a) / (lon_b - lon_a) THEN
          inside := NOT inside;
        END IF;
      END LOOP;
      RETURN inside;
    END $$
    """,
)


class PostgresDialect:
    def json_path(self, column: Expr, path: tuple[str, ...]) -> Expr:
        return sa.type_coerce(column, JSONB()).op("#>")(sa.literal(list(path), ARRAY(sa.Text())))

    def json_type_is(self, value: Expr, kinds: tuple[str, ...]) -> Expr:
        return sa.func.jsonb_typeof(value).in_(list(kinds))

    def json_scalar(self, value: Expr, kind: str) -> Expr:
        text = sa.type_coerce(value, JSONB()).op("#>>")(sa.literal([], ARRAY(sa.Text())))
        if kind == "number":
            return sa.cast(text, sa.Float(precision=53))
        if kind == "boolean":
            return sa.cast(text, sa.Boolean())
        return text

    def json_literal(self, value: Any) -> Expr:
        return sa.cast(sa.literal(json.dumps(value)), JSONB())

    def json_equals(self, value: Expr, literal: Any) -> Expr:
        return sa.type_coerce(value, JSONB()) == self.json_literal(literal)

    def in_values(self, column: Expr, values: list[Any]) -> Expr:
        if not isinstance(column, sa.Column):
            return column.in_(values)  # no such column: NULL, whatever the list
        # one array parameter, however long the list: IN (...) takes one per value and asyncpg stops at 32,767
        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(column.type)))

    def array_contains_any(self, column: Expr, values: list[Any]) -> Expr:
        jsonb = sa.type_coerce(column, JSONB())
        strings = [value for value in values if isinstance(value, str)]
        scalars = [value for value in values if operators.is_scalar(value) and not isinstance(value, str)]
        tests: list[Expr] = []
        if strings:
            tests.append(jsonb.bool_op("?|")(sa.literal(strings, ARRAY(sa.Text()))))
        tests += [jsonb.bool_op("@>")(self.json_literal([value])) for value in scalars]
        tests += [self._has_element(column, value) for value in values if not operators.is_scalar(value)]
        return any_of(tests)

    def array_contains_all(self, column: Expr, values: list[Any]) -> Expr:
        jsonb = sa.type_coerce(column, JSONB())
        scalars = [value for value in values if operators.is_scalar(value)]
        # @> on arrays of objects/arrays is partial containment; Parse's equality is exact
        exact = [self._has_element(column, value) for value in values if not operators.is_scalar(value)]
        return sa.and_(sa.func.jsonb_typeof(jsonb) == "array", jsonb.bool_op("@>")(self.json_literal(scalars)), *exact)

    def array_contained_by(self, column: Expr, values: list[Any]) -> Expr:
        jsonb = sa.type_coerce(column, JSONB())
        is_array = sa.func.jsonb_typeof(jsonb) == "array"
        if all(operators.is_scalar(value) for value in values):
            return sa.and_(is_array, jsonb.bool_op("<@")(self.json_literal(values)))
        element = _elements(jsonb)
        allowed = element.c.value.in_([self.json_literal(value) for value in values])
        stray = sa.exists(sa.select(1).select_from(element).where(sa.not_(allowed)))
        return sa.and_(is_array, sa.not_(stray))

    def _has_element(self, column: Expr, value: Any) -> Expr:
        element = _elements(sa.type_coerce(column, JSONB()))
        return sa.exists(sa.select(1).select_from(element).where(element.c.value == self.json_literal(value)))

    def regex(self, column: Expr, pattern: str, ignore_case: bool, multiline: bool) -> Expr:
        return column.op("~*" if ignore_case else "~")(operators.postgres_pattern(pattern, multiline))

    def text_search(self, column: Expr, terms: tuple[str, ...], case_sensitive: bool) -> Expr:
        words = sa.func.regexp_split_to_array(sa.func.lower(column), r"\W+")
        wanted = [term.lower() for term in terms]
        return words.bool_op("@>")(sa.literal(wanted, ARRAY(sa.Text())))

    def geo_lat_lon(self, column: Expr) -> tuple[Expr, Expr]:
        jsonb = sa.type_coerce(column, JSONB())
        return (
            sa.cast(jsonb.op("->>")("latitude"), sa.Float(precision=53)),
            sa.cast(jsonb.op("->>")("longitude"), sa.Float(precision=53)),
        )

    def geo_distance(self, column: Expr, point: wire.GeoPoint) -> Expr:
        lat, lon = self.geo_lat_lon(column)
        return sa.func.ballast_geo_distance(lat, lon, point.latitude, point.longitude)

    def polygon_contains(self, polygon: Expr, point_lat: Expr, point_lon: Expr) -> Expr:
        return sa.func.ballast_polygon_contains(sa.type_coerce(polygon, JSONB()), point_lat, point_lon)


def _elements(jsonb: Expr) -> Any:
    # PostgreSQL may evaluate this before the jsonb_typeof guard; a non-array must not raise
    safe = sa.case((sa.func.jsonb_typeof(jsonb) == "array", jsonb), else_=sa.cast(sa.literal("[]"), JSONB()))
    return sa.func.jsonb_array_elements(safe).table_valued(sa.column("value", JSONB())).alias("element")


class PostgresStore(SqlStore):
    name = "postgres"
    writes_in_ctes = True

    def __init__(self, url: str, pool_size: int = 32, max_overflow: int = 8) -> None:
        # pool_size covers the requests one process has in flight under load: connections past it are
        # closed on return and reopened on demand, and that churn cost ~15% of a GET (benchmarks/crud.py)
        # jsontext.loads: a number PostgreSQL prints with more than 64 bits of digits comes back a double
        # hide_parameters: an error's text (which the log keeps) never holds a token, hash or stored answer
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                                     json_deserializer=jsontext.loads, hide_parameters=True)
        super().__init__(engine, PostgresDialect())
        # Reads skip BEGIN / SET TRANSACTION READ ONLY / COMMIT (three of a GET's four round trips): in
        # READ COMMITTED each statement takes its own snapshot anyway, and default_transaction_read_only
        # makes the server refuse any write on these connections, as the read-only transaction did.
        self._reader = create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True, connect_args={"server_settings": {"default_transaction_read_only": "on"}},
            json_deserializer=jsontext.loads, hide_parameters=True,
        )
        sqlfaults.install(self._reader)
        # both kinds of autocommit unit keep their connections between uses (see sqlshelf); single writes keep
        # fewer, so transactions still find pooled connections
        self._reads = ConnectionShelf(self._reader, pool_size)
        self._single_writes = ConnectionShelf(engine, max(1, pool_size // 2), isolation_level="AUTOCOMMIT")
        self._rules: pg_rules.RuleWatch | None = None
        # by id() of a prebuilt statement (each plan holds it) and, for an INSERT, its columns
        self._plans: dict[tuple[int, tuple[str, ...]], pg_direct.Plan | None] = {}

    async def open(self) -> None:
        await super().open()
        # every instance LISTENs and holds a lease; a schema change waits for every lease holder (see pg_rules)
        self._rules = pg_rules.RuleWatch(self.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False), self._heard_change)
        await self._rules.start()

    def _heard_change(self) -> None:
        self._schema_stamp += 1

    def schema_stamp(self) -> object:
        # outside a lease (or without a listener) nothing says the cache is current: every unit reloads
        return self._schema_stamp if self._rules is not None and self._rules.current() else object()

    async def announce_schema_change(self, conn: AsyncConnection) -> pg_rules.Pending | None:
        return await pg_rules.announce(conn, self._rules.instance) if self._rules is not None else None

    async def schema_acknowledged(self, pending: object) -> None:
        if self._rules is not None and isinstance(pending, pg_rules.Pending):
            await self._rules.acknowledged(pending)

    async def run_read(self, conn: AsyncConnection, statement: sa.Select[Any], values: dict[str, Any] | None, *,
                       prebuilt: bool = False) -> Any:
        if prebuilt and conn.engine is self._reader:  # autocommit reads only (see pg_direct)
            compiled = self._plan(statement)
            if compiled is not None and (rows := await pg_direct.fetch(conn, compiled, values or {})) is not None:
                return rows
        return await super().run_read(conn, statement, values, prebuilt=prebuilt)

    async def run_insert(self, conn: AsyncConnection, statement: sa.Insert, values: dict[str, Any], *,
                         autocommit: bool) -> None:
        if autocommit:  # its own transaction: nothing SQLAlchemy began can miss it (see pg_direct)
            compiled = self._plan(statement, tuple(values))
            if compiled is not None and await pg_direct.execute(conn, compiled, values):
                return
        await super().run_insert(conn, statement, values, autocommit=autocommit)

    def _plan(self, statement: sa.Select[Any] | sa.Insert, columns: tuple[str, ...] = ()) -> pg_direct.Plan | None:
        """The statement's plan, compiled once per (statement, column set: an INSERT's columns are its keys)."""
        key = (id(statement), columns)
        if key in self._plans:
            found = self._plans[key]
            if found is None or found.statement is statement:
                return found
        if len(self._plans) >= 4096:
            self._plans.clear()
        found = self._plans[key] = (pg_direct.insert_plan(statement, columns, self.engine.dialect)
                                    if isinstance(statement, sa.Insert) else
                                    pg_direct.plan(statement, self._reader.dialect))
        return found

    def pools(self) -> dict[str, AsyncEngine]:
        return {"writes": self.engine, "reads": self._reader}

    async def close(self) -> None:
        if self._rules is not None:
            rules, self._rules = self._rules, None
            await rules.stop()
        await self._reads.close()
        await self._single_writes.close()
        await self._reader.dispose()
        await super().close()

    async def install_functions(self, conn: AsyncConnection) -> None:
        for statement in _FUNCTIONS:
            await conn.exec_driver_sql(statement)
        await pg_rules.create_tables(conn)  # IF NOT EXISTS: an existing database gains them on its next start

    async def lock_class(self, conn: AsyncConnection, class_name: str) -> None:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": "schema:" + class_name})

    def connect(self, *, read_only: bool, single_write: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        # the shelf's own context manager, not one wrapped around it: each async-generator layer costs ~1 us
        if read_only or single_write:
            return (self._reads if read_only else self._single_writes).connection()
        return super().connect(read_only=False)
