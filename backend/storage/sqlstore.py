"""The SQL storage adapter shared by SQLite and PostgreSQL (SQLAlchemy Core, async).

``SqlStore`` owns the engine and the table cache; ``SqlSession`` is one
transaction implementing ``protocols.Session``. Engine specifics (pragmas,
functions, locking) live in ``sqlite.py`` and ``postgres.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.errors import DuplicateValue, ObjectNotFound, WriteConflict
from backend.querytree import FindSpec, GroupSpec, Node
from backend.storage import sqlfaults
from backend.storage.protocols import ID_INDEX, ClassSchema, FieldSpec, Row, StoredResponse, TransactionRequired
from backend.storage.sqlcache import (
    OBJECT_ID,
    StatementCache,
    filter_values,
    insert_param,
    object_id_lookup,
    plain_filters,
    selected_columns,
    update_param,
)
from backend.storage.sqlconstraints import create_unique_index, duplicate_field, reachable_statement
from backend.storage.sqlgroup import Group, group_statement, groups_from
from backend.storage.sqlquery import Compiler, SqlDialect, order_by, query_error, sqlstate
from backend.storage.sqltables import (
    JSON_TYPE,
    UTCDateTime,
    build_join_table,
    build_table,
    column_type,
    row_to_columns,
    rows_from,
    rows_yielding,
)

_meta = sa.MetaData()
SCHEMA_TABLE = sa.Table(
    "_SCHEMA", _meta,
    sa.Column("className", sa.Text(), primary_key=True),
    sa.Column("schema", JSON_TYPE, nullable=False),
    sa.Column("isParseClass", sa.Boolean(), nullable=False, default=True),
)
CONFIG_TABLE = sa.Table(
    "_GlobalConfig", _meta,
    sa.Column("objectId", sa.Text(), primary_key=True),
    sa.Column("params", JSON_TYPE, nullable=False),
    sa.Column("masterKeyOnly", JSON_TYPE, nullable=False),
)
IDEMPOTENCY_TABLE = sa.Table(
    "_Idempotency", _meta,
    sa.Column("reqId", sa.Text(), primary_key=True),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("expire", UTCDateTime(), nullable=False, index=True),
)


def schema_to_json(schema: ClassSchema) -> dict[str, Any]:
    return {
        "fields": {name: spec.to_wire() for name, spec in schema.fields.items()},
        "classLevelPermissions": dict(schema.class_level_permissions),
        "indexes": {name: dict(keys) for name, keys in schema.indexes.items()},
    }


def schema_from_json(class_name: str, data: dict[str, Any]) -> ClassSchema:
    fields = {
        name: FieldSpec(spec["type"], spec.get("targetClass"), spec.get("required", False), spec.get("defaultValue"))
        for name, spec in data.get("fields", {}).items()
    }
    return ClassSchema(class_name, fields, data.get("classLevelPermissions", {}), data.get("indexes", {}))


class SqlStore:
    """An async SQLAlchemy engine plus Parse's tables on it."""

    name = "sql"
    # True when a failed statement leaves its transaction usable (SQLite undoes just that statement):
    # then a write needs no SAVEPOINT for its unique violation to be caught and survived
    statement_rollback = False
    # True when a statement may carry other writes in its WITH clause (PostgreSQL's data-modifying CTEs)
    writes_in_ctes = False
    # True when a single-write unit's one write may only be an INSERT (SQLite group-commits it): any other
    # write there raises TransactionRequired before it runs, so the caller redoes its work in a transaction
    single_write_inserts_only = False

    def __init__(self, engine: AsyncEngine, dialect: SqlDialect) -> None:
        sqlfaults.install(engine)  # lost connections and a busy file: a retryable 503, never code 1
        self.engine = engine
        self.dialect = dialect
        self._tables: dict[tuple[str, tuple[tuple[str, str], ...]], sa.Table] = {}
        self._join_tables: dict[tuple[str, str], sa.Table] = {}
        self._table_of: dict[int, tuple[ClassSchema, sa.Table]] = {}  # by id() of a schema object
        self.statements = StatementCache()  # hot-path statements built once (see sqlcache)
        self._schema_stamp = 0

    async def open(self) -> None:
        # a write connection: on SQLite its BEGIN IMMEDIATE serialises worker processes starting together
        async with self.connect(read_only=False) as conn:
            # instances starting together on one empty database would race to create the same tables
            await self.lock_class(conn, "_startup")
            await conn.run_sync(_meta.create_all)
            await self.install_functions(conn)

    async def install_functions(self, conn: AsyncConnection) -> None:
        """Engine-specific SQL functions the dialect relies on (geo, text)."""

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:  # a fresh checkout: a dead server or database fails here
            await conn.execute(sa.text("SELECT 1"))

    def pools(self) -> dict[str, AsyncEngine]:
        return {"writes": self.engine}

    def pool_stats(self) -> dict[str, dict[str, int]]:
        stats: dict[str, dict[str, int]] = {}
        for name, engine in self.pools().items():
            pool: Any = engine.pool
            # SQLAlchemy's overflow() is negative while the pool has not opened all its connections yet
            stats[name] = {key: max(0, int(getattr(pool, method)())) if hasattr(pool, method) else 0
                           for key, method in (("size", "size"), ("checked_out", "checkedout"),
                                               ("overflow", "overflow"))}
        return stats

    async def lock_class(self, conn: AsyncConnection, class_name: str) -> None:
        """Engines with concurrent writers take a lock here; SQLite's writes are already serialised."""

    def table(self, schema: ClassSchema) -> sa.Table:
        held = self._table_of.get(id(schema))  # the schema service hands out one object per class version
        if held is not None and held[0] is schema:
            return held[1]
        key = (schema.class_name, tuple((n, s.type) for n, s in schema.column_fields().items()))
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = build_table(schema, sa.MetaData())
        if len(self._table_of) >= 4096:
            self._table_of.clear()
        self._table_of[id(schema)] = (schema, table)  # held: its id is not reused while cached
        return table

    def join_table(self, class_name: str, key: str) -> sa.Table:
        table = self._join_tables.get((class_name, key))
        if table is None:
            table = self._join_tables[(class_name, key)] = build_join_table(class_name, key, sa.MetaData())
        return table

    def connect(self, *, read_only: bool, single_write: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection inside a transaction (or in autocommit for a single write); engines override to add
        locking or read-only mode."""
        return self._engine_connection(single_write)

    @asynccontextmanager
    async def _engine_connection(self, single_write: bool) -> AsyncIterator[AsyncConnection]:
        if single_write:
            async with self.engine.connect() as conn:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")
            return
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False, single_write: bool = False) -> AsyncIterator[SqlSession]:
        announced: object = None
        try:
            async with self.connect(read_only=read_only, single_write=single_write) as conn:
                session = SqlSession(self, conn, single_write=single_write)
                yield session
                if session.schema_changed:
                    announced = await self.announce_schema_change(conn)
        except DBAPIError as error:  # in a statement or at COMMIT: the whole transaction is gone
            if sqlstate(error) in RETRYABLE:
                raise WriteConflict() from error
            raise
        if session.schema_changed:
            self.schema_committed()
            await self.schema_acknowledged(announced)

    # --- telling every instance about schema changes (see Store.schema_stamp) ----------------

    def schema_stamp(self) -> object:
        return self._schema_stamp

    async def announce_schema_change(self, conn: AsyncConnection) -> object:
        """In the changing transaction, just before its commit (PostgreSQL: a NOTIFY, sent as it commits); what it
        returns is passed to ``schema_acknowledged`` after the commit."""
        return None

    async def schema_acknowledged(self, announced: object) -> None:
        """After the commit, before the change's request answers: PostgreSQL waits until every other instance has
        heard of it (or can no longer use its cached rules; see pg_rules)."""

    async def before_schema_load(self, conn: AsyncConnection) -> None:
        """Just before every schemas are read (SQLite: note the change count the read will include)."""

    def schema_committed(self) -> None:
        """After the commit of a schema change, in this instance."""
        self._schema_stamp += 1

    async def run_read(self, conn: AsyncConnection, statement: sa.Select[Any], values: dict[str, Any] | None, *,
                       prebuilt: bool = False) -> Any:
        """A SELECT's result (what rows_from reads). The engines send a ``prebuilt`` one (a reused statement
        object, see sqlcache) straight to the driver, compiled once. Any other goes through SQLAlchemy, whose
        compiled cache knows it by its structure: compiling it for the driver cost more than running it (a find
        with ``$in`` or ``$or`` spent about 1 ms of CPU per request in SQLAlchemy's compiler)."""
        return await conn.execute(statement, values)

    async def run_insert(self, conn: AsyncConnection, statement: sa.Insert, values: dict[str, Any], *,
                         autocommit: bool) -> None:
        """A prebuilt single-row INSERT; PostgreSQL sends one on an autocommit connection straight to the driver."""
        await conn.execute(statement, values)

    async def run_insert_many(self, conn: AsyncConnection, statement: sa.Insert, names: tuple[str, ...],
                              rows: list[Row], updates: list[tuple[sa.Update, Row]]) -> None:
        """Prebuilt UPDATEs by objectId, then a prebuilt INSERT of ``names`` (a value a row lacks is NULL) for
        each row, in ``conn``'s transaction: the updates go with the insert where the engine can (SQLite: one
        trip, from prebuilt plans, with no per-row parameter processing by SQLAlchemy: an audit append's cost)."""
        async with self.held_writes(conn):
            for update, values in updates:
                await conn.execute(update, values)
        await conn.execute(statement, [{name: row.get(name) for name in names} for row in rows])

    def held_writes(self, conn: AsyncConnection) -> AbstractAsyncContextManager[None]:
        """Statements executed on ``conn`` inside may wait to be sent with the first one after it (SQLite:
        in one trip to the driver's thread); engines that send each at once need not."""
        return nullcontext()

    def is_unique_violation(self, error: IntegrityError) -> bool:
        return True


class _Schemas:
    """Resolves class names inside one transaction's query compilation."""

    def __init__(self, store: SqlStore, schemas: dict[str, ClassSchema]) -> None:
        self.store = store
        self.schemas = schemas

    def table(self, schema: ClassSchema) -> sa.Table:
        return self.store.table(schema)

    def join_table(self, class_name: str, key: str) -> sa.Table:
        return self.store.join_table(class_name, key)

    def schema(self, class_name: str) -> ClassSchema:
        return self.schemas.get(class_name) or ClassSchema(class_name, {"objectId": FieldSpec("String")})


class SqlSession:
    """One transaction on a SQL store (or, ``single_write``, one write that commits on its own)."""

    def __init__(self, store: SqlStore, conn: AsyncConnection, *, single_write: bool = False) -> None:
        self.store = store
        self.conn = conn
        self.known: dict[str, ClassSchema] = {}
        self._writes_left = 1 if single_write else None  # None: a real transaction, no limit
        self.schema_changed = False

    def _count_write(self, *, schema_change: bool = False, insert: bool = False) -> None:
        """In a single-write session, refuse the write that would need a transaction, before it runs."""
        if self._writes_left is None:
            return
        if schema_change or self._writes_left == 0 or (self.store.single_write_inserts_only and not insert):
            raise TransactionRequired()
        self._writes_left -= 1

    # --- schemas -------------------------------------------------------------------

    async def load_schemas(self) -> list[ClassSchema]:
        await self.store.before_schema_load(self.conn)
        result = await self.conn.execute(sa.select(SCHEMA_TABLE.c.className, SCHEMA_TABLE.c.schema))
        schemas = [schema_from_json(name, data) for name, data in result]
        self.known = {schema.class_name: schema for schema in schemas}
        return schemas

    async def load_schema(self, class_name: str) -> ClassSchema | None:
        statement = sa.select(SCHEMA_TABLE.c.schema).where(SCHEMA_TABLE.c.className == class_name)
        data = (await self.conn.execute(statement)).scalar_one_or_none()
        if data is None:
            self.known.pop(class_name, None)
            return None
        schema = self.known[class_name] = schema_from_json(class_name, data)
        return schema

    async def lock_class(self, class_name: str) -> None:
        self._count_write(schema_change=True)  # a lock is taken only to change a schema
        await self.store.lock_class(self.conn, class_name)

    async def save_schema(self, schema: ClassSchema, previous: ClassSchema | None) -> None:
        self._count_write(schema_change=True)
        self.schema_changed = True
        values = {"className": schema.class_name, "schema": schema_to_json(schema), "isParseClass": True}
        if previous is None:
            await self.conn.execute(sa.insert(SCHEMA_TABLE).values(**values))
            await self.conn.run_sync(_create, self.store.table(schema))
        else:
            await self.conn.execute(
                sa.update(SCHEMA_TABLE).where(SCHEMA_TABLE.c.className == schema.class_name).values(**values)
            )
            await self._alter_columns(schema, previous)
        await self._sync_relations(schema, previous)
        await self._sync_indexes(schema, previous)
        self.known[schema.class_name] = schema

    async def _alter_columns(self, schema: ClassSchema, previous: ClassSchema) -> None:
        table = _quote(self.conn, schema.class_name)
        old, new = previous.column_fields(), schema.column_fields()
        for name, spec in new.items():
            if name not in old:
                column_ddl = column_type(spec).compile(dialect=self.conn.dialect)
                await self.conn.exec_driver_sql(
                    f"ALTER TABLE {table} ADD COLUMN {_quote(self.conn, name)} {column_ddl}"
                )
        for name in old.keys() - new.keys():
            await self.conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {_quote(self.conn, name)}")

    async def _sync_relations(self, schema: ClassSchema, previous: ClassSchema | None) -> None:
        before = {n for n, s in (previous.fields if previous else {}).items() if s.type == "Relation"}
        after = {n for n, s in schema.fields.items() if s.type == "Relation"}
        for key in after - before:
            join = self.store.join_table(schema.class_name, key)
            await self.conn.run_sync(_create, join)
        for key in before - after:
            join = self.store.join_table(schema.class_name, key)
            await self.conn.run_sync(_drop, join)

    async def _sync_indexes(self, schema: ClassSchema, previous: ClassSchema | None) -> None:
        before = dict(previous.indexes) if previous else {}
        table = _quote(self.conn, schema.class_name)
        for name in before.keys() - schema.indexes.keys() - ID_INDEX.keys():
            await self.conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_quote(self.conn, _index_name(schema, name))}")
        for name, keys in schema.indexes.items():
            if name in before or name in ID_INDEX:
                continue
            columns = ", ".join(
                _quote(self.conn, key) + (" DESC" if direction == -1 else "") for key, direction in keys.items()
            )
            index = _quote(self.conn, _index_name(schema, name))
            await self.conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({columns})")

    async def drop_class(self, class_name: str) -> None:
        self._count_write(schema_change=True)
        self.schema_changed = True
        schema = self.known.get(class_name)
        await self.conn.execute(sa.delete(SCHEMA_TABLE).where(SCHEMA_TABLE.c.className == class_name))
        await self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(self.conn, class_name)}")
        for key, spec in (schema.fields if schema else {}).items():
            if spec.type == "Relation":
                join = self.store.join_table(class_name, key)
                await self.conn.run_sync(_drop, join)
        self.known.pop(class_name, None)

    # --- rows ------------------------------------------------------------------------

    async def insert(self, schema: ClassSchema, row: Row, *, savepoint: bool = True) -> None:
        self._count_write(insert=True)
        table = self.store.table(schema)
        try:
            async with self._guarded(savepoint):
                await self.store.run_insert(self.conn, self.store.statements.insert(table), row_to_columns(schema, row),
                                            autocommit=self._writes_left is not None)
        except IntegrityError as error:
            raise _duplicate(error, schema) from error

    async def insert_many(self, schema: ClassSchema, rows: list[Row],
                          updates: list[tuple[ClassSchema, str, Row]] | None = None) -> None:
        self._count_write()
        table = self.store.table(schema)
        values = [row_to_columns(schema, row) for row in rows]
        names = tuple(sorted(set().union(*values)))  # one statement, one column list: a value a row lacks is NULL
        changes = [(self.store.table(target), object_id, row_to_columns(target, change))
                   for target, object_id, change in updates or ()]
        try:
            if changes and len(values) == 1 and self.store.writes_in_ctes:  # (a multi-row VALUES is never cached)
                await self._insert_with(table, names, values[0], changes)
                return
            held = [(self.store.statements.update(target_table), columns | {OBJECT_ID: object_id})
                    for target_table, object_id, columns in changes]
            for _ in held:
                self._count_write()
            await self.store.run_insert_many(self.conn, self.store.statements.insert(table), names, values, held)
        except IntegrityError as error:
            raise _duplicate(error, schema) from error

    async def _insert_with(self, table: sa.Table, names: tuple[str, ...], row: Row,
                           changes: list[tuple[sa.Table, str, Row]]) -> None:
        """The updates and the insert of one row as one statement (``WITH u0 AS (UPDATE ...), ... INSERT ...``)."""
        shapes = tuple((target, tuple(sorted(columns))) for target, _, columns in changes)
        statement = self.store.statements.insert_with(table, names, shapes)
        params = {insert_param(column): row.get(name) for column, name in enumerate(names)}
        for index, ((_, object_id, columns), (_, ordered)) in enumerate(zip(changes, shapes, strict=True)):
            params[update_param(index, None)] = object_id
            params |= {update_param(index, column): columns[name] for column, name in enumerate(ordered)}
        if (await self.conn.execute(statement, params)).rowcount != 1:  # a row to update was gone: no insert
            raise ObjectNotFound("A row this write updates is gone; nothing was written.")

    def _guarded(self, savepoint: bool) -> AbstractAsyncContextManager[object]:
        """A savepoint around a write whose unique violation a caller may catch and carry on after."""
        return self.conn.begin_nested() if savepoint and not self.store.statement_rollback else nullcontext()

    async def fetch_for_update(self, schema: ClassSchema, object_id: str) -> Row | None:
        table = self.store.table(schema)
        statement = self.store.statements.for_update(table)
        found = rows_from(schema, await self.conn.execute(statement, {OBJECT_ID: object_id}))
        return found[0] if found else None

    async def update(self, schema: ClassSchema, object_id: str, values: Row, *, savepoint: bool = True) -> None:
        self._count_write()
        table = self.store.table(schema)
        columns = row_to_columns(schema, values)
        if not columns:
            return
        try:
            async with self._guarded(savepoint):
                await self.conn.execute(self.store.statements.update(table), columns | {OBJECT_ID: object_id})
        except IntegrityError as error:
            raise _duplicate(error, schema) from error

    async def delete(self, schema: ClassSchema, object_id: str) -> None:
        self._count_write()
        table = self.store.table(schema)
        await self.conn.execute(self.store.statements.delete(table), {OBJECT_ID: object_id})
        for key, spec in schema.fields.items():
            if spec.type == "Relation":
                join = self.store.join_table(schema.class_name, key)
                await self.conn.execute(sa.delete(join).where(join.c.owningId == object_id))

    def _compiler(self, schema: ClassSchema, read_names: frozenset[str] | None = None) -> Compiler:
        return Compiler(schema, _Schemas(self.store, self.known), self.store.dialect, read_names)

    async def _query(self, statement: sa.Select[Any], values: dict[str, Any] | None = None, *,
                     prebuilt: bool = False) -> Any:
        try:
            return await self.store.run_read(self.conn, statement, values, prebuilt=prebuilt)
        except DBAPIError as error:
            raise query_error(error) from error

    async def find(self, schema: ClassSchema, spec: FindSpec) -> list[Row]:
        compiler = self._compiler(schema, spec.read_names)
        object_id = object_id_lookup(spec)
        if object_id is not None:  # GET by id: a prebuilt statement (see sqlcache)
            statement = self.store.statements.by_id(compiler, spec.read_names)
            result = await self.store.run_read(self.conn, statement, {OBJECT_ID: object_id}, prebuilt=True)
            return rows_from(schema, result, spec.shape)
        filters = plain_filters(compiler, spec.where)
        if filters is not None:  # the common shape: a prebuilt statement, the values bound (see sqlcache)
            statement = self.store.statements.plain_find(compiler, spec, filters)
            result = await self._query(statement, filter_values(compiler, filters), prebuilt=True)
            return await rows_yielding(schema, result, spec.shape)
        statement = (
            sa.select(*selected_columns(compiler.table, spec.columns))
            .where(compiler.compile(spec.where), self.store.statements.acl(compiler, spec.read_names))
            .order_by(*order_by(compiler, spec))
            .offset(spec.skip or None)
            .limit(spec.limit)
        )
        return await rows_yielding(schema, await self._query(statement), spec.shape)

    async def count(self, schema: ClassSchema, where: Node, read_names: frozenset[str] | None) -> int:
        compiler = self._compiler(schema, read_names)
        statement = (
            sa.select(sa.func.count()).select_from(compiler.table)
            .where(compiler.compile(where), self.store.statements.acl(compiler, read_names))
        )
        return int((await self._query(statement)).scalar_one())

    async def count_by(self, schema: ClassSchema, spec: GroupSpec) -> list[Group]:
        compiler = self._compiler(schema, spec.read_names)
        statement = group_statement(compiler, spec, self.store.statements.acl(compiler, spec.read_names))
        width = len(spec.fields) + (spec.bucket is not None)
        return groups_from((await self._query(statement)).all(), width)

    async def add_relations(self, schema: ClassSchema, key: str, owning_id: str, related: list[str]) -> None:
        self._count_write()
        join = self.store.join_table(schema.class_name, key)
        existing = await self.conn.execute(
            sa.select(join.c.relatedId).where(join.c.owningId == owning_id, join.c.relatedId.in_(related))
        )
        present = {row[0] for row in existing}
        fresh = [{"relatedId": rid, "owningId": owning_id} for rid in dict.fromkeys(related) if rid not in present]
        if fresh:
            await self.conn.execute(sa.insert(join), fresh)

    async def remove_relations(self, schema: ClassSchema, key: str, owning_id: str, related: list[str]) -> None:
        self._count_write()
        join = self.store.join_table(schema.class_name, key)
        await self.conn.execute(sa.delete(join).where(join.c.owningId == owning_id, join.c.relatedId.in_(related)))

    async def purge(self, schema: ClassSchema) -> None:
        self._count_write()
        await self.conn.execute(sa.delete(self.store.table(schema)))
        for key, spec in schema.fields.items():
            if spec.type == "Relation":
                await self.conn.execute(sa.delete(self.store.join_table(schema.class_name, key)))

    async def ensure_unique(self, schema: ClassSchema, fields: tuple[str, ...]) -> None:
        self._count_write(schema_change=True)
        table = _quote(self.conn, schema.class_name)
        columns = ", ".join(_quote(self.conn, name) for name in fields)
        index = _quote(self.conn, _index_name(schema, "unique_" + "_".join(fields)))
        await self.conn.exec_driver_sql(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} ({columns})")

    async def ensure_unique_folded(self, class_name: str, field: str) -> None:
        self._count_write(schema_change=True)
        await create_unique_index(self.conn, class_name, field, case_insensitive=True)

    async def find_reachable(self, schema: ClassSchema, seed_key: str, walk_key: str, related_id: str) -> list[Row]:
        table = self.store.table(schema)
        seed = self.store.join_table(schema.class_name, seed_key)
        walk = self.store.join_table(schema.class_name, walk_key)
        return rows_from(schema, await self.conn.execute(reachable_statement(table, seed, walk, related_id)))

    # --- config and idempotency ----------------------------------------------------------

    async def get_config(self) -> tuple[dict[str, Any], dict[str, bool]]:
        found = (await self.conn.execute(sa.select(CONFIG_TABLE).where(CONFIG_TABLE.c.objectId == "1"))).first()
        if found is None:
            return {}, {}
        return dict(found.params), dict(found.masterKeyOnly)

    async def put_config(self, params: dict[str, Any], master_key_only: dict[str, bool]) -> None:
        self._count_write()
        await self.conn.execute(sa.delete(CONFIG_TABLE).where(CONFIG_TABLE.c.objectId == "1"))
        await self.conn.execute(
            sa.insert(CONFIG_TABLE).values(objectId="1", params=params, masterKeyOnly=master_key_only)
        )

    async def get_response(self, key: str, now: datetime) -> StoredResponse | None:
        statement = sa.select(IDEMPOTENCY_TABLE).where(
            IDEMPOTENCY_TABLE.c.reqId == key, IDEMPOTENCY_TABLE.c.expire > now
        )
        found = (await self.conn.execute(statement)).first()
        return StoredResponse(found.status, found.body, found.expire) if found is not None else None

    async def put_response(self, key: str, response: StoredResponse) -> None:
        self._count_write()
        await self.conn.execute(sa.delete(IDEMPOTENCY_TABLE).where(IDEMPOTENCY_TABLE.c.reqId == key))
        await self.conn.execute(
            sa.insert(IDEMPOTENCY_TABLE).values(
                reqId=key, status=response.status, body=response.body, expire=response.expires_at
            )
        )


def _duplicate(error: IntegrityError, schema: ClassSchema) -> DuplicateValue:
    duplicate = DuplicateValue()
    duplicate.field = duplicate_field(error, schema.class_name)
    return duplicate


def _quote(conn: AsyncConnection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _index_name(schema: ClassSchema, name: str) -> str:
    return f"{schema.class_name}_{name}"[:63]


def _create(sync: sa.Connection, table: sa.Table) -> None:
    table.create(sync, checkfirst=True)


def _drop(sync: sa.Connection, table: sa.Table) -> None:
    table.drop(sync, checkfirst=True)


# SQLSTATEs of a transaction the database rolled back to let another one finish: serialization_failure,
# deadlock_detected. The work itself was fine; running it again in a new transaction may succeed.
RETRYABLE = frozenset({"40001", "40P01"})

