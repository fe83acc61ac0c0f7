"""Statements built once and reused: the hot paths' SQL without per-request construction.

Building a SQLAlchemy statement and deriving its cache key cost more CPU than
the database spends on a primary-key lookup. A statement object that is reused
keeps its memoized cache key, so SQLAlchemy finds its compiled form at once;
values travel as bound parameters. Keys hold the ``Table`` object itself (one
per schema layout, see ``SqlStore.table``), so a schema change gets new
statements. The cache is bounded: when full it starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from backend import querytree as q
from backend.storage.sqlquery import Compiler, Expr, acl_filter, order_by, scalar_compare

# not a column name: Parse field names start with a letter, system columns are _rperm/_wperm
OBJECT_ID = "_lookup_object_id"
T = TypeVar("T")
SCALAR_TYPES = frozenset({"String", "Number", "Boolean", "Date", "Pointer"})  # one plain column each
ALWAYS_SELECTED = ("objectId", "createdAt", "updatedAt", "_rperm", "_wperm")


def selected_columns(table: sa.Table, columns: tuple[str, ...] | None) -> list[sa.Column[Any]]:
    """The table's columns a find returns: all, or the asked-for ones plus those every object carries."""
    if columns is None:
        return list(table.c)
    wanted = {*ALWAYS_SELECTED, *columns}
    return [column for column in table.c if column.name in wanted]


def plain_filters(compiler: Compiler, where: q.Node) -> tuple[q.Compare, ...] | None:
    """The comparisons of ``where`` when it is only top-level scalar columns compared with non-null
    values, ANDed (the shape of most app queries); None for anything else, which the compiler builds."""
    nodes = where.children if isinstance(where, q.And) else (where,)
    for node in nodes:
        if not (
            isinstance(node, q.Compare) and node.value is not None and not node.field.nested
            and node.field.type in SCALAR_TYPES and compiler.has_column(node.field)
            and compiler.spec(node.field).type == node.field.type
        ):
            return None
    return tuple(node for node in nodes if isinstance(node, q.Compare))


def filter_values(compiler: Compiler, filters: tuple[q.Compare, ...]) -> dict[str, Any]:
    """The bound parameters of ``StatementCache.plain_find`` for these comparisons."""
    return {f"p{i}": compiler.scalar(node.field, node.value) for i, node in enumerate(filters)}


def insert_param(column: int) -> str:
    return f"c{column}"


def update_param(update: int, column: int | None) -> str:
    """The parameter of an update's column (None: the objectId it updates)."""
    return f"u{update}_id" if column is None else f"u{update}_{column}"


def object_id_lookup(spec: q.FindSpec) -> str | None:
    """The id when ``spec`` is a plain fetch by objectId (what GET /classes/X/id does), else None."""
    where = spec.where
    if (
        isinstance(where, q.Compare) and where.op == "eq" and where.field.path == ("objectId",)
        and isinstance(where.value, str) and not spec.order and not spec.skip and spec.columns is None
        and spec.limit
    ):
        return where.value
    return None


class StatementCache:
    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._items: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        found: T | None = self._items.get(key)
        if found is None:
            if len(self._items) >= self.size:
                self._items.clear()
            found = self._items[key] = build()
        return found

    def acl(self, compiler: Compiler, read_names: frozenset[str] | None) -> Expr:
        """``acl_filter`` for this table and these names, built once."""
        return self._get(("acl", compiler.table, read_names), lambda: acl_filter(compiler, read_names))

    def by_id(self, compiler: Compiler, read_names: frozenset[str] | None) -> sa.Select[Any]:
        """SELECT one row by objectId (bound as ``OBJECT_ID``) that these names may read."""
        table = compiler.table

        def build() -> sa.Select[Any]:
            where = table.c.objectId == sa.bindparam(OBJECT_ID)
            return sa.select(*table.c).where(where, self.acl(compiler, read_names)).limit(1)

        return self._get(("by_id", table, read_names), build)

    def plain_find(self, compiler: Compiler, spec: q.FindSpec, filters: tuple[q.Compare, ...]) -> sa.Select[Any]:
        """A find whose filters are ``plain_filters``, their values bound as ``filter_values`` names them."""
        table = compiler.table
        shape = tuple((node.field.path[0], node.op) for node in filters)

        def build() -> sa.Select[Any]:
            conditions = [
                scalar_compare(table.c[name], op, sa.bindparam(f"p{i}", type_=table.c[name].type))
                for i, (name, op) in enumerate(shape)
            ]
            return (
                sa.select(*selected_columns(table, spec.columns))
                .where(*conditions, self.acl(compiler, spec.read_names))
                .order_by(*order_by(compiler, spec))
                .offset(spec.skip or None)
                .limit(spec.limit)
            )

        key = ("find", table, spec.read_names, shape, spec.order, spec.columns, spec.skip, spec.limit)
        return self._get(key, build)

    def for_update(self, table: sa.Table) -> sa.Select[Any]:
        """SELECT ... FOR UPDATE of one row by objectId (bound as ``OBJECT_ID``)."""
        return self._get(
            ("for_update", table),
            lambda: sa.select(table).where(table.c.objectId == sa.bindparam(OBJECT_ID)).with_for_update(),
        )

    def update(self, table: sa.Table) -> sa.Update:
        """UPDATE one row by objectId (bound as ``OBJECT_ID``); the SET columns are the other parameters' keys."""
        return self._get(("update", table),
                         lambda: sa.update(table).where(table.c.objectId == sa.bindparam(OBJECT_ID)))

    def delete(self, table: sa.Table) -> sa.Delete:
        """DELETE one row by objectId (bound as ``OBJECT_ID``)."""
        return self._get(("delete", table),
                         lambda: sa.delete(table).where(table.c.objectId == sa.bindparam(OBJECT_ID)))

    def insert_with(self, table: sa.Table, names: tuple[str, ...],
                    updates: tuple[tuple[sa.Table, tuple[str, ...]], ...]) -> sa.Insert:
        """INSERT of one row of ``names`` whose WITH clause first updates rows by objectId (PostgreSQL);
        parameters named by ``insert_param`` and ``update_param``.

        The row is SELECTed FROM the updates' RETURNING, so PostgreSQL runs every update (taking its row
        lock) before the insert: an unreferenced data-modifying CTE runs AFTER the main statement, which
        took the insert's unique-index entries first and, against a writer that locked the same row (an
        audit chain's head) before inserting, deadlocked. A row to update that is gone inserts nothing.
        """

        def build() -> sa.Insert:
            changes: list[sa.CTE] = []
            for index, (target, columns) in enumerate(updates):
                key = sa.bindparam(update_param(index, None), type_=target.c.objectId.type)
                change = sa.update(target).where(target.c.objectId == key).values(
                    {name: sa.bindparam(update_param(index, column), type_=target.c[name].type)
                     for column, name in enumerate(columns)})
                changes.append(change.returning(target.c.objectId).cte(f"u{index}"))
            assert changes, "insert_with needs at least one update"
            joined: sa.FromClause = changes[0]
            for later in changes[1:]:  # each update returns its one row: a join ON true is that one row
                joined = joined.join(later, sa.true())
            row = sa.select(*(sa.bindparam(insert_param(column), type_=table.c[name].type)
                              for column, name in enumerate(names))).select_from(joined)
            statement = sa.insert(table).from_select(list(names), row)
            return statement.add_cte(*changes)

        return self._get(("insert_with", table, names, updates), build)

    def insert(self, table: sa.Table) -> sa.Insert:
        """INSERT INTO the table; the columns are the keys of the parameters it is executed with."""
        return self._get(("insert", table), lambda: sa.insert(table))
