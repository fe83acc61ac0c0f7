"""Query tree -> SQLAlchemy expression, shared by the SQLite and PostgreSQL adapters.

The semantics mirror ``backend.services.data.query.matches`` exactly (a hypothesis
test holds the two together); what differs between engines is behind
``SqlDialect``: JSON paths, JSON array membership, regex and text search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from backend import querytree as q
from backend import wire
from backend.errors import InvalidQuery
from backend.operators import ORDERED, json_kind
from backend.storage.protocols import ClassSchema, FieldSpec
from backend.storage.sqlbool import all_of, any_of
from backend.storage.sqltables import to_column

Expr = ColumnElement[Any]


class SqlDialect(Protocol):
    """The engine-specific pieces of SQL the compiler needs."""

    def json_path(self, column: Expr, path: tuple[str, ...]) -> Expr:
        """The JSON value at ``path`` inside ``column`` (JSON-typed)."""

    def json_type_is(self, value: Expr, kinds: tuple[str, ...]) -> Expr:
        """True where the JSON value is one of: null, string, number, boolean, array, object."""

    def json_scalar(self, value: Expr, kind: str) -> Expr:
        """The JSON value as a SQL string/number/boolean (kind names which)."""

    def json_literal(self, value: Any) -> Expr:
        """A JSON literal, as the engine's JSON functions take it."""

    def json_equals(self, value: Expr, literal: Any) -> Expr:
        """The JSON value equals the literal (a list or dict)."""

    def array_contains_any(self, column: Expr, values: list[Any]) -> Expr:
        """The JSON array holds at least one of the JSON values."""

    def array_contains_all(self, column: Expr, values: list[Any]) -> Expr: ...

    def in_values(self, column: Expr, values: list[Any]) -> Expr:
        """The column's value is one of ``values`` (already in the column's stored form)."""

    def array_contained_by(self, column: Expr, values: list[Any]) -> Expr: ...

    def regex(self, column: Expr, pattern: str, ignore_case: bool, multiline: bool) -> Expr: ...

    def text_search(self, column: Expr, terms: tuple[str, ...], case_sensitive: bool) -> Expr: ...

    def geo_distance(self, column: Expr, point: wire.GeoPoint) -> Expr:
        """Great-circle distance in radians from the GeoPoint column to ``point``."""

    def geo_lat_lon(self, column: Expr) -> tuple[Expr, Expr]: ...

    def polygon_contains(self, polygon: Expr, point_lat: Expr, point_lon: Expr) -> Expr: ...


class TableSource(Protocol):
    def table(self, schema: ClassSchema) -> sa.Table: ...

    def join_table(self, class_name: str, key: str) -> sa.Table: ...

    def schema(self, class_name: str) -> ClassSchema: ...


class Compiler:
    """Compiles one class's query tree against its table.

    Convention: a compiled expression is TRUE exactly where the object matches; it may be NULL
    where it does not (WHERE treats NULL as false), so every negation goes through ``negate``.
    """

    def __init__(self, schema: ClassSchema, source: TableSource, dialect: SqlDialect,
                 read_names: frozenset[str] | None = None) -> None:
        self.schema = schema
        self.source = source
        self.dialect = dialect
        self.table = source.table(schema)
        self.read_names = read_names  # sub-queries see only what the caller may read

    def compile(self, node: q.Node) -> Expr:
        field = getattr(node, "field", None)
        if isinstance(field, q.Field) and not self.has_column(field) and field.type != "Relation":
            # a field no object has: every object holds null there, as in Parse
            return sa.true() if _null_matches(node) else sa.false()
        handler: Callable[[Compiler, Any], Expr] = _HANDLERS[type(node)]
        return handler(self, node)

    # --- helpers -------------------------------------------------------------------

    def has_column(self, field: q.Field) -> bool:
        return field.path[0] in self.table.c

    def column(self, field: q.Field) -> Expr:
        if field.path[0] not in self.table.c:
            return sa.null()
        return self.table.c[field.path[0]]

    def spec(self, field: q.Field) -> FieldSpec:
        return self.schema.fields.get(field.path[0]) or FieldSpec(field.type)

    def scalar(self, field: q.Field, value: Any) -> Any:
        """A tree value in the column's stored form."""
        return to_column(self.spec(field), value)

    def nested(self, field: q.Field) -> Expr:
        return self.dialect.json_path(self.column(field), field.path[1:])


def negate(expr: Expr) -> Expr:
    """NOT, with NULL (no match) counted as false first, so a negation never drops a row by accident."""
    return sa.not_(sa.func.coalesce(expr, sa.false()))


def _null_matches(node: q.Node) -> bool:
    """Whether a constraint holds for an object whose field is null (absent)."""
    if isinstance(node, q.Compare):
        return (node.value is None) == (node.op == "eq") if node.op in ("eq", "ne") else False
    if isinstance(node, q.In):
        return any(value is None for value in node.values) != node.negate
    if isinstance(node, q.Exists):
        return not node.exists
    if isinstance(node, q.InQuery | q.Select):
        return node.negate
    return False


def _compare(c: Compiler, node: q.Compare) -> Expr:
    if node.field.type == "Relation":
        return _relation_in(c, node.field, (node.value,), negated=node.op == "ne")
    if node.field.nested or node.field.type in ("Object",):
        return _compare_json(c, node)
    column = c.column(node.field)
    if node.field.type == "Array":
        return _compare_array(c, node, column)
    if node.value is None:
        return column.is_(None) if node.op == "eq" else column.is_not(None)
    value = c.scalar(node.field, node.value)
    if node.field.type in ("GeoPoint", "Polygon"):
        equal = c.dialect.json_equals(column, value)
        return equal if node.op == "eq" else sa.or_(column.is_(None), negate(equal))
    return scalar_compare(column, node.op, value)


def scalar_compare(column: Expr, op: str, value: Any) -> Expr:
    """A scalar column against a non-null value (a literal, or a bound parameter): ``ne`` keeps nulls, as Parse."""
    if op == "eq":
        equal_expr: Expr = column == value
        return equal_expr
    if op == "ne":
        return sa.or_(column != value, column.is_(None))
    ordered: Expr = ORDERED[op](column, value)
    return ordered


def _array_equal(c: Compiler, column: Expr, encoded: Any) -> Expr:
    # Parse: equality against an array field means "the array contains the value" (or is that array)
    if isinstance(encoded, list):
        return c.dialect.json_equals(column, encoded)
    if encoded is None:
        return column.is_(None)
    return c.dialect.array_contains_any(column, [encoded])


def _compare_array(c: Compiler, node: q.Compare, column: Expr) -> Expr:
    encoded = wire.encode(node.value)
    if node.op == "eq":
        return _array_equal(c, column, encoded)
    if node.op == "ne":
        if encoded is None:
            return column.is_not(None)
        return sa.or_(column.is_(None), negate(_array_equal(c, column, encoded)))
    raise InvalidQuery(f"${node.op} is not supported on an Array field.")


def _compare_json(c: Compiler, node: q.Compare) -> Expr:
    value_expr = c.nested(node.field) if node.field.nested else c.column(node.field)
    encoded = wire.encode(node.value)
    if encoded is None:
        present = sa.and_(value_expr.is_not(None), sa.not_(c.dialect.json_type_is(value_expr, ("null",))))
        return negate(present) if node.op == "eq" else present
    kind = json_kind(encoded)
    if kind in ("array", "object"):
        equal = sa.and_(value_expr.is_not(None), c.dialect.json_equals(value_expr, encoded))
        if node.op == "eq":
            return equal
        if node.op == "ne":
            return negate(equal)
        raise InvalidQuery("Ordering comparisons need a string, number or date.")
    typed = sa.and_(value_expr.is_not(None), c.dialect.json_type_is(value_expr, (kind,)))
    scalar = c.dialect.json_scalar(value_expr, kind)
    if node.op == "eq":
        return sa.and_(typed, scalar == encoded)
    if node.op == "ne":
        return negate(sa.and_(typed, scalar == encoded))
    if kind == "boolean":
        raise InvalidQuery("Ordering comparisons need a string, number or date.")
    return sa.and_(typed, ORDERED[node.op](scalar, encoded))


def _in(c: Compiler, node: q.In) -> Expr:
    if node.field.type == "Relation":
        return _relation_in(c, node.field, node.values, negated=node.negate)
    if node.field.nested or node.field.type in ("Object", "Array", "GeoPoint", "Polygon"):
        options = [q.Compare(node.field, "eq", value) for value in node.values]
        matched = any_of([_compare(c, option) for option in options])
        return negate(matched) if node.negate else matched
    column = c.column(node.field)
    values = [c.scalar(node.field, value) for value in node.values if value is not None]
    has_null = any(value is None for value in node.values)
    listed = c.dialect.in_values(column, values)
    matched = sa.or_(listed, column.is_(None)) if has_null else listed
    return negate(matched) if node.negate else matched


def _relation_in(c: Compiler, field: q.Field, values: tuple[Any, ...], *, negated: bool) -> Expr:
    """A Relation field "equals" an object when the relation holds it (Parse's reduceInRelation)."""
    ids = [value.object_id for value in values if isinstance(value, wire.Pointer)]
    if not ids:
        return sa.true() if negated else sa.false()
    join = c.source.join_table(c.schema.class_name, field.path[0])
    owners = sa.select(join.c.owningId).where(join.c.relatedId.in_(ids))
    member = c.table.c.objectId.in_(owners)
    return negate(member) if negated else member


def _exists(c: Compiler, node: q.Exists) -> Expr:
    if node.field.nested:
        value_expr = c.nested(node.field)
        present = sa.and_(value_expr.is_not(None), sa.not_(c.dialect.json_type_is(value_expr, ("null",))))
    else:
        present = c.column(node.field).is_not(None)
    return present if node.exists else negate(present)


def _contains_all(c: Compiler, node: q.ContainsAll) -> Expr:
    return c.dialect.array_contains_all(c.column(node.field), [wire.encode(v) for v in node.values])


def _contained_by(c: Compiler, node: q.ContainedBy) -> Expr:
    return c.dialect.array_contained_by(c.column(node.field), [wire.encode(v) for v in node.values])


def _regex(c: Compiler, node: q.Regex) -> Expr:
    if node.field.nested:
        value_expr = c.nested(node.field)
        guard = sa.and_(value_expr.is_not(None), c.dialect.json_type_is(value_expr, ("string",)))
        target = c.dialect.json_scalar(value_expr, "string")
        return sa.and_(guard, c.dialect.regex(target, node.pattern, node.ignore_case, node.multiline))
    column = c.column(node.field)
    return sa.and_(column.is_not(None), c.dialect.regex(column, node.pattern, node.ignore_case, node.multiline))


def _text(c: Compiler, node: q.Text) -> Expr:
    column = c.column(node.field)
    return sa.and_(column.is_not(None), c.dialect.text_search(column, node.terms, node.case_sensitive))


def _sub_select(c: Compiler, query: q.SubQuery, key: q.Field | None) -> sa.Select[Any] | None:
    """The sub-query's ``key`` values (objectId when None); None when its class does not exist."""
    if query.schema is None:
        return None
    schema = query.schema  # as the parser saw it: this transaction may not have loaded it
    inner = Compiler(schema, c.source, c.dialect, c.read_names)
    if key is None:
        selected: Expr = inner.table.c.objectId
    elif not inner.has_column(key):
        return None
    elif key.nested:
        selected = inner.dialect.json_path(inner.column(key), key.path[1:])
    else:
        selected = inner.column(key)
    condition = sa.and_(inner.compile(query.where), acl_filter(inner, c.read_names))
    return sa.select(selected).where(condition)


def _in_query(c: Compiler, node: q.InQuery) -> Expr:
    sub = _sub_select(c, node.query, None)
    if sub is None:
        return sa.true() if node.negate else sa.false()
    if node.field.type == "Relation":  # the relation holds some object the sub-query finds
        join = c.source.join_table(c.schema.class_name, node.field.path[0])
        matched = c.table.c.objectId.in_(sa.select(join.c.owningId).where(join.c.relatedId.in_(sub)))
    else:
        matched = c.column(node.field).in_(sub)
    return negate(matched) if node.negate else matched


def _select(c: Compiler, node: q.Select) -> Expr:
    sub = _sub_select(c, node.query, node.key)
    if sub is None:
        return sa.true() if node.negate else sa.false()
    column = c.column(node.field)
    if node.key.nested or node.key.type in ("Object", "Array"):
        raise InvalidQuery("$select/$dontSelect need a key of a String, Number, Date, Boolean or Pointer field.")
    matched = column.in_(sub)
    return negate(matched) if node.negate else matched


def _related_to(c: Compiler, node: q.RelatedTo) -> Expr:
    join = c.source.join_table(node.owner.class_name, node.key)
    related = sa.select(join.c.relatedId).where(join.c.owningId == node.owner.object_id)
    return c.table.c.objectId.in_(related)


def _near(c: Compiler, node: q.Near) -> Expr:
    column = c.column(node.field)
    if node.max_distance is None:
        return column.is_not(None)
    return sa.and_(column.is_not(None), c.dialect.geo_distance(column, node.point) <= node.max_distance)


def _within_box(c: Compiler, node: q.WithinBox) -> Expr:
    column = c.column(node.field)
    lat, lon = c.dialect.geo_lat_lon(column)
    return sa.and_(
        column.is_not(None),
        lat.between(node.south_west.latitude, node.north_east.latitude),
        lon.between(node.south_west.longitude, node.north_east.longitude),
    )


def _within_polygon(c: Compiler, node: q.WithinPolygon) -> Expr:
    column = c.column(node.field)
    lat, lon = c.dialect.geo_lat_lon(column)
    polygon = c.dialect.json_literal(wire.encode(node.polygon))
    return sa.and_(column.is_not(None), c.dialect.polygon_contains(polygon, lat, lon))


def _within_sphere(c: Compiler, node: q.WithinSphere) -> Expr:
    column = c.column(node.field)
    return sa.and_(column.is_not(None), c.dialect.geo_distance(column, node.center) <= node.radius)


def _intersects(c: Compiler, node: q.Intersects) -> Expr:
    column = c.column(node.field)
    lat, lon = sa.literal(node.point.latitude), sa.literal(node.point.longitude)
    return sa.and_(column.is_not(None), c.dialect.polygon_contains(column, lat, lon))


def _and(c: Compiler, node: q.And) -> Expr:
    return all_of([c.compile(child) for child in node.children])


def _or(c: Compiler, node: q.Or) -> Expr:
    return any_of([c.compile(child) for child in node.children])


def _nor(c: Compiler, node: q.Nor) -> Expr:
    return negate(_or(c, q.Or(node.children)))


_HANDLERS: dict[type, Callable[[Compiler, Any], Expr]] = {
    q.Compare: _compare,
    q.In: _in,
    q.Exists: _exists,
    q.ContainsAll: _contains_all,
    q.ContainedBy: _contained_by,
    q.Regex: _regex,
    q.Text: _text,
    q.InQuery: _in_query,
    q.Select: _select,
    q.RelatedTo: _related_to,
    q.ReadableBy: lambda c, node: acl_filter(c, node.names),
    q.Near: _near,
    q.WithinBox: _within_box,
    q.WithinPolygon: _within_polygon,
    q.WithinSphere: _within_sphere,
    q.Intersects: _intersects,
    q.And: _and,
    q.Or: _or,
    q.Nor: _nor,
}


def order_by(compiler: Compiler, spec: q.FindSpec) -> list[Expr]:
    """ORDER BY clauses: the requested keys (PostgreSQL's null order), else $nearSphere's distance."""
    clauses: list[Expr] = []
    near = _find_near(spec.where)
    # an explicit order replaces $nearSphere's distance order (MongoDB's and parse-server's rule)
    if near is not None and not spec.order and compiler.has_column(near.field):
        clauses.append(compiler.dialect.geo_distance(compiler.column(near.field), near.point).asc())
    for order in spec.order:
        if not compiler.has_column(order.field):
            continue  # every object holds null there: no order to give
        if order.field.nested:
            expr: Expr = compiler.nested(order.field)
        else:
            expr = compiler.column(order.field)
        clauses.append(expr.desc().nulls_first() if order.descending else expr.asc().nulls_last())
    return clauses


def _find_near(node: q.Node) -> q.Near | None:
    if isinstance(node, q.Near):
        return node
    if isinstance(node, q.And):
        for child in node.children:
            found = _find_near(child)
            if found is not None:
                return found
    return None


def acl_filter(compiler: Compiler, read_names: frozenset[str] | None) -> Expr:
    """Rows the principal may read: no ACL at all, or one naming it (None = master)."""
    if read_names is None:
        return sa.true()
    rperm = compiler.table.c._rperm
    return sa.or_(rperm.is_(None), compiler.dialect.array_contains_any(rperm, sorted(read_names)))


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE the driver reported (asyncpg: on the error or on its cause), if any."""
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def query_error(error: DBAPIError) -> Exception:
    """A database's refusal of a query it was handed (e.g. a regex PostgreSQL cannot read) -> 102."""
    state = sqlstate(error)
    if state is not None and state.startswith(("22", "2201B")):
        return InvalidQuery("The database refused the query: check $regex and other operator values.")
    return error
