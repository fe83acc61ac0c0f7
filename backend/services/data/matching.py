"""The in-memory matcher: whether one object satisfies a query tree (pure).

Exactly the semantics the SQL adapters give the tree (``backend.storage.sqlquery``);
a hypothesis oracle test holds the two together on both engines. LiveQuery uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from backend import operators, wire
from backend import querytree as q
from backend.errors import InvalidQuery


def matches(row: Mapping[str, Any], node: q.Node) -> bool:
    """Whether a stored object (field -> wire value) satisfies the tree."""
    matcher = _MATCHERS.get(type(node))
    if matcher is None:
        raise InvalidQuery(f"{type(node).__name__} cannot be evaluated in memory.")
    return matcher(row, node)


def _lookup(row: Mapping[str, Any], path: q.FieldPath) -> Any:
    value: Any = row.get(path[0])
    if len(path) > 1:  # inside an Object, values are plain JSON (as SQL sees them)
        value = _plain(value)
    for key in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _plain(value: Any) -> Any:
    """A wire value as the JSON it is stored as (pointers compare by objectId at top level)."""
    return wire.encode(value)


def _scalar_key(field: q.Field, value: Any) -> Any:
    if isinstance(value, wire.Pointer):
        return value.object_id
    if isinstance(value, wire.File):
        return value.name
    if isinstance(value, wire.Bytes):
        return value.base64
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _match_compare(row: Mapping[str, Any], node: q.Compare) -> bool:
    actual = _lookup(row, node.field.path)
    if node.field.nested or node.field.type == "Object":
        return _compare_json(actual, node.op, node.value)
    if node.field.type == "Array":
        return _compare_array(actual, node.op, node.value)
    if node.value is None:
        return (actual is None) == (node.op == "eq")
    if node.op == "eq":
        return actual is not None and _scalar_key(node.field, actual) == _scalar_key(node.field, node.value)
    if node.op == "ne":
        return actual is None or _scalar_key(node.field, actual) != _scalar_key(node.field, node.value)
    if actual is None or type(_scalar_key(node.field, actual)) is not type(_scalar_key(node.field, node.value)):
        return False
    return bool(operators.ORDERED[node.op](_scalar_key(node.field, actual), _scalar_key(node.field, node.value)))


def _compare_array(actual: Any, op: str, value: Any) -> bool:
    expected = _plain(value)
    if isinstance(expected, list):
        equal = isinstance(actual, list) and operators.json_key(_plain(actual)) == operators.json_key(expected)
    elif expected is None:
        equal = actual is None
    else:
        equal = isinstance(actual, list) and operators.contains_any(_plain(actual), [expected])
    if op == "eq":
        return equal
    return not equal or (actual is None and expected is not None)


def _compare_json(actual: Any, op: str, value: Any) -> bool:
    actual, expected = _plain(actual), _plain(value)
    if expected is None:
        return (actual is None) == (op == "eq")
    if actual is None:
        return op == "ne"
    same_kind = operators.json_kind(actual) == operators.json_kind(expected)
    equal = same_kind and operators.json_key(actual) == operators.json_key(expected)
    if op == "eq":
        return equal
    if op == "ne":
        return not equal
    ordered = operators.json_kind(expected) in ("number", "string")
    return same_kind and ordered and bool(operators.ORDERED[op](actual, expected))


def _match_in(row: Mapping[str, Any], node: q.In) -> bool:
    found = any(_match_compare(row, q.Compare(node.field, "eq", value)) for value in node.values)
    return found != node.negate


def _match_exists(row: Mapping[str, Any], node: q.Exists) -> bool:
    return (_lookup(row, node.field.path) is not None) == node.exists


def _array_of(row: Mapping[str, Any], field: q.Field) -> list[Any] | None:
    value = _lookup(row, field.path)
    return _plain(value) if isinstance(value, list) else None


def _match_all(row: Mapping[str, Any], node: q.ContainsAll) -> bool:
    array = _array_of(row, node.field)
    return array is not None and operators.contains_all(array, [_plain(v) for v in node.values])


def _match_contained_by(row: Mapping[str, Any], node: q.ContainedBy) -> bool:
    array = _array_of(row, node.field)
    return array is not None and operators.contained_by(array, [_plain(v) for v in node.values])


def _match_regex(row: Mapping[str, Any], node: q.Regex) -> bool:
    value = _lookup(row, node.field.path)
    return isinstance(value, str) and operators.regex(value, node.pattern, node.ignore_case, node.multiline)


def _match_text(row: Mapping[str, Any], node: q.Text) -> bool:
    value = _lookup(row, node.field.path)
    return isinstance(value, str) and operators.text_search(value, node.terms)


def _point(row: Mapping[str, Any], field: q.Field) -> wire.GeoPoint | None:
    value = _lookup(row, field.path)
    return value if isinstance(value, wire.GeoPoint) else None


def _distance(a: wire.GeoPoint, b: wire.GeoPoint) -> float:
    return operators.geo_distance(a.latitude, a.longitude, b.latitude, b.longitude)


def _match_near(row: Mapping[str, Any], node: q.Near) -> bool:
    point = _point(row, node.field)
    return point is not None and (node.max_distance is None or _distance(point, node.point) <= node.max_distance)


def _match_box(row: Mapping[str, Any], node: q.WithinBox) -> bool:
    point = _point(row, node.field)
    return (
        point is not None
        and node.south_west.latitude <= point.latitude <= node.north_east.latitude
        and node.south_west.longitude <= point.longitude <= node.north_east.longitude
    )


def _match_polygon(row: Mapping[str, Any], node: q.WithinPolygon) -> bool:
    point = _point(row, node.field)
    coordinates = [list(pair) for pair in node.polygon.coordinates]
    return point is not None and operators.polygon_contains(coordinates, point.latitude, point.longitude)


def _match_sphere(row: Mapping[str, Any], node: q.WithinSphere) -> bool:
    point = _point(row, node.field)
    return point is not None and _distance(point, node.center) <= node.radius


def _match_intersects(row: Mapping[str, Any], node: q.Intersects) -> bool:
    polygon = _lookup(row, node.field.path)
    if not isinstance(polygon, wire.Polygon):
        return False
    coordinates = [list(pair) for pair in polygon.coordinates]
    return operators.polygon_contains(coordinates, node.point.latitude, node.point.longitude)


_MATCHERS: dict[type, Callable[[Mapping[str, Any], Any], bool]] = {
    q.Compare: _match_compare,
    q.In: _match_in,
    q.Exists: _match_exists,
    q.ContainsAll: _match_all,
    q.ContainedBy: _match_contained_by,
    q.Regex: _match_regex,
    q.Text: _match_text,
    q.Near: _match_near,
    q.WithinBox: _match_box,
    q.WithinPolygon: _match_polygon,
    q.WithinSphere: _match_sphere,
    q.Intersects: _match_intersects,
    q.ReadableBy: lambda row, node: row.get("_rperm") is None or not node.names.isdisjoint(row["_rperm"]),
    q.And: lambda row, node: all(matches(row, child) for child in node.children),
    q.Or: lambda row, node: any(matches(row, child) for child in node.children),
    q.Nor: lambda row, node: not any(matches(row, child) for child in node.children),
}


def sort_key_for(value: Any) -> Any:
    """Orderable form of a wire value (used to order in-memory results the way SQL does)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return _scalar_key(q.Field(("",), "Unknown"), value)


def sort_rows(rows: list[Mapping[str, Any]], orders: tuple[q.Order, ...]) -> list[Mapping[str, Any]]:
    """Rows in the order SQL gives them for top-level keys: nulls last ascending, first descending."""
    ordered = list(rows)
    for order in reversed(orders):  # stable sorts, least significant key first
        present = [row for row in ordered if _lookup(row, order.field.path) is not None]
        absent = [row for row in ordered if _lookup(row, order.field.path) is None]
        present.sort(key=lambda row: sort_key_for(_lookup(row, order.field.path)), reverse=order.descending)
        ordered = absent + present if order.descending else present + absent
    return ordered
