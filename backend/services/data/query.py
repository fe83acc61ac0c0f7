"""A client's ``where`` -> the query tree; ``order`` and ``keys`` (pure).

``parse_where`` checks every key and operator against the class schema and
decodes values; ``matches`` (in ``matching``, re-exported here) decides whether
one object satisfies a tree with exactly the semantics the SQL adapters give it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from backend import operators, wire
from backend import querytree as q
from backend.errors import InvalidJSON, InvalidKeyName, InvalidQuery, ParseError
from backend.services.data.matching import matches, sort_key_for, sort_rows
from backend.services.data.query_limits import check_where_size
from backend.storage.protocols import ClassSchema

SchemaLookup = Callable[[str], ClassSchema | None]
__all__ = ["SchemaLookup", "matches", "parse_keys", "parse_order", "parse_where", "sort_key_for", "sort_rows"]

# a leading underscore is refused too: _hashed_password, _rperm, tokens... must not be probed by a query
# (parse-server answers 105 "Invalid key name" for them); services build trees for those directly
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_$\-]+)*$")
PROJECTED_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_$\-]+)*$")  # keys: render hides _ fields
ORDERED_TYPES = frozenset({"Number", "String", "Date", "Unknown"})
MILES_PER_RADIAN = 3958.8
MAX_QUERY_DEPTH = 16
# regex syntax Python's re and PostgreSQL read differently: named groups, scoped or m inline flags
# (PostgreSQL's (?m) is newline-sensitive '.' too), and POSIX [[:class:]] bracket items
UNPORTABLE_REGEX = re.compile(r"\(\?P|\(\?<[A-Za-z_]|\(\?[A-Za-z-]+:|\(\?[a-z]*m[a-z]*\)|\[[^\]]*\[[:.=]")


def parse_where(where: object, schema: ClassSchema, lookup: SchemaLookup, depth: int = 0) -> q.Node:
    """A ``where`` object -> tree; InvalidQuery/InvalidKeyName/IncorrectType on anything off."""
    if where is None:
        return q.MATCH_ALL
    if not isinstance(where, dict):
        raise InvalidQuery("where must be a JSON object.")
    if depth == 0:  # the whole clause, sub-queries included, once
        check_where_size(where)
    if depth > MAX_QUERY_DEPTH:
        raise InvalidQuery("The query is nested too deeply.")
    nodes: list[q.Node] = []
    for key, constraint in where.items():
        if key in ("$or", "$and", "$nor"):
            nodes.append(_logical(key, constraint, schema, lookup, depth))
        elif key == "$relatedTo":
            nodes.append(_related_to(constraint))
        elif key.startswith("$"):  # parse-server's validateQuery: 105 for any other key it cannot take
            raise InvalidKeyName(f"Invalid key name: {key[:32]}")
        else:
            nodes.extend(_field_constraints(_field(key, schema), constraint, schema, lookup, depth))
    return nodes[0] if len(nodes) == 1 else q.And(tuple(nodes))


def _logical(op: str, clauses: object, schema: ClassSchema, lookup: SchemaLookup, depth: int) -> q.Node:
    if not isinstance(clauses, list) or not clauses:
        raise InvalidQuery(f"{op} must be a non-empty array of queries.")
    children = tuple(parse_where(clause, schema, lookup, depth + 1) for clause in clauses)
    if op == "$or":
        return q.Or(children)
    return q.And(children) if op == "$and" else q.Nor(children)


def _field(key: str, schema: ClassSchema) -> q.Field:
    if not isinstance(key, str) or not KEY.match(key) or len(key) > 256:
        raise InvalidKeyName(f"Invalid key name: {str(key)[:64]}")
    path = tuple(key.split("."))
    spec = schema.fields.get(path[0])
    kind = spec.type if spec else "Unknown"
    if len(path) > 1 and kind not in ("Object", "Unknown"):
        raise InvalidKeyName(f"Dotted key {key[:64]!r}: only Object fields have nested keys.")
    return q.Field(path, "Object" if len(path) > 1 and kind == "Unknown" else kind)


def _is_operator_dict(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)


def _field_constraints(
    field: q.Field, constraint: object, schema: ClassSchema, lookup: SchemaLookup, depth: int
) -> list[q.Node]:
    if not _is_operator_dict(constraint):
        return [q.Compare(field, "eq", _value(field, constraint))]
    assert isinstance(constraint, dict)
    nodes: list[q.Node] = []
    options = constraint.get("$options")
    for op, argument in constraint.items():
        if op in ("$options", "$maxDistance", "$maxDistanceInRadians", "$maxDistanceInKilometers",
                  "$maxDistanceInMiles"):
            continue
        builder = _OPERATORS.get(op)
        if builder is None:
            raise InvalidQuery(f"bad constraint: {op[:32]}")
        nodes.append(builder(field, argument, constraint, options, schema, lookup, depth))
    if not nodes and "$options" in constraint:
        raise InvalidQuery("$options needs $regex.")
    return nodes


def _value(field: q.Field, raw: object) -> Any:
    """Decode a comparison value and check it suits the field's type."""
    value = wire.decode(raw)
    if isinstance(value, wire.OP_TYPES):
        raise InvalidQuery("Update operators are not query values.")
    if value is None or field.nested or field.type in ("Unknown", "Object", "Array"):
        return value
    expected = "Pointer" if field.type == "Relation" else field.type
    actual = wire.type_name(value)
    if field.type == "File" and isinstance(value, wire.File):
        return value
    if actual != expected:
        raise InvalidQuery(f"{field.path[0]} is a {field.type} field; cannot compare it with {actual}.")
    return value


def _compare_op(op: q.CompareOp) -> Callable[..., q.Node]:
    def build(field: q.Field, argument: object, *_: Any) -> q.Node:
        value = _value(field, argument)
        if op not in ("eq", "ne") and not field.nested and field.type not in ORDERED_TYPES:
            raise InvalidQuery(f"${op} needs a Number, String or Date field; {field.path[0]} is {field.type}.")
        if op not in ("eq", "ne") and (value is None or isinstance(value, bool | dict | list)):
            raise InvalidQuery(f"${op} needs a number, string or date.")
        if op not in ("eq", "ne") and field.nested:
            if isinstance(value, datetime):  # a Date inside an Object is {"__type": "Date", "iso": ...}
                return q.Compare(q.Field((*field.path, "iso"), field.type), op, wire.format_iso(value))
            if not isinstance(value, int | float | str):
                raise InvalidQuery(f"${op} on a nested key needs a number, string or date.")
        return q.Compare(field, op, value)

    return build


def _values(field: q.Field, argument: object, op: str) -> tuple[Any, ...]:
    if not isinstance(argument, list):
        raise InvalidQuery(f"{op} must be an array.")
    element = q.Field(field.path, "Unknown") if field.type == "Array" else field
    return tuple(_value(element, item) for item in argument)


def _in(field: q.Field, argument: object, *_: Any) -> q.Node:
    return q.In(field, _values(field, argument, "$in"))


def _nin(field: q.Field, argument: object, *_: Any) -> q.Node:
    return q.In(field, _values(field, argument, "$nin"), negate=True)


def _all(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("Array", "Unknown"), "$all")
    return q.ContainsAll(field, _values(field, argument, "$all"))


def _contained_by(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("Array", "Unknown"), "$containedBy")
    return q.ContainedBy(field, _values(field, argument, "$containedBy"))


def _exists(field: q.Field, argument: object, *_: Any) -> q.Node:
    if not isinstance(argument, bool):
        raise InvalidQuery("$exists must be true or false.")
    return q.Exists(field, argument)


def _regex(field: q.Field, argument: object, _c: Any, options: object, *_: Any) -> q.Node:
    if not isinstance(argument, str) or len(argument) > 1024 or "\x00" in argument:
        raise InvalidQuery("$regex must be a string of at most 1024 characters.")
    if options is not None and (not isinstance(options, str) or set(options) - {"i", "m", "x", "s"}):
        raise InvalidQuery("$options may only contain i, m, x and s.")
    flags = options or ""
    # x: drop whitespace and comments, as parse-server does before handing the pattern to PostgreSQL
    pattern = re.sub(r"\s+|#.*", "", argument) if "x" in flags else argument
    pattern = operators.unquote(pattern)
    if UNPORTABLE_REGEX.search(pattern):  # one meaning on every engine, or none
        raise InvalidQuery("Invalid $regex: named groups, scoped or (?m) inline flags and [[:class:]] "
                           "are not supported; use $options.")
    if not field.nested:
        _require(field, ("String", "Unknown"), "$regex")
    try:  # the same linear-time engine judges the pattern for every engine, so both accept the same syntax
        operators.compile_regex(pattern, "i" in flags, "m" in flags)
    except operators.RegexRefused as error:
        raise InvalidQuery(f"Invalid $regex (backreferences, lookaround and \\Z are not supported): {error}"
                           ) from error
    return q.Regex(field, pattern, ignore_case="i" in flags, multiline="m" in flags)


def _text(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("String", "Unknown"), "$text")
    search = argument.get("$search") if isinstance(argument, dict) else None
    if not isinstance(search, dict) or not isinstance(search.get("$term"), str):
        raise InvalidQuery("bad $text: $search.$term must be a string.")
    if search.get("$caseSensitive"):  # as parse-server on PostgreSQL
        raise InvalidQuery("bad $text: $caseSensitive not supported, please use $regex.")
    if not isinstance(search.get("$diacriticSensitive", False), bool):
        raise InvalidQuery("bad $text: $diacriticSensitive, should be boolean")
    terms = tuple(sorted(operators.words(search["$term"])))
    if not terms:
        raise InvalidQuery("bad $text: $term has no words to search for.")
    return q.Text(field, terms)


def _sub_query(argument: object, lookup: SchemaLookup, depth: int, op: str) -> q.SubQuery:
    if not isinstance(argument, dict) or not isinstance(argument.get("className"), str):
        raise InvalidQuery(f"improper usage of {op}: it needs className and where.")
    class_name = argument["className"]
    known = lookup(class_name)
    schema = known or ClassSchema(class_name, {})
    return q.SubQuery(class_name, parse_where(argument.get("where", {}), schema, lookup, depth + 1), known)


def _in_query(negate: bool) -> Callable[..., q.Node]:
    def build(field: q.Field, argument: object, _c: Any, _o: Any, _s: Any, lookup: SchemaLookup, depth: int) -> q.Node:
        _require(field, ("Pointer", "Relation", "Unknown"), "$inQuery")
        return q.InQuery(field, _sub_query(argument, lookup, depth, "$inQuery"), negate)

    return build


def _select(negate: bool) -> Callable[..., q.Node]:
    def build(field: q.Field, argument: object, _c: Any, _o: Any, _s: Any, lookup: SchemaLookup, depth: int) -> q.Node:
        if not isinstance(argument, dict) or not isinstance(argument.get("key"), str):
            raise InvalidQuery("improper usage of $select: it needs query and key.")
        sub = _sub_query(argument.get("query"), lookup, depth, "$select")
        key = _field(argument["key"], lookup(sub.class_name) or ClassSchema(sub.class_name, {}))
        return q.Select(field, sub, key, negate)

    return build


def _related_to(argument: object) -> q.Node:
    if not isinstance(argument, dict) or not isinstance(argument.get("key"), str):
        raise InvalidQuery("improper usage of $relatedTo: it needs object and key.")
    owner_id = argument["object"].get("objectId", "") if isinstance(argument.get("object"), dict) else 0
    if owner_id is None or owner_id == "":  # an unsaved object has no related objects yet (Parse: [])
        return q.MATCH_NONE
    try:
        owner = wire.decode_pointer(argument.get("object"))
    except ParseError as error:
        raise InvalidQuery("$relatedTo.object must be a Pointer.") from error
    return q.RelatedTo(owner, argument["key"])


def _geo_point(value: object, what: str) -> wire.GeoPoint:
    if isinstance(value, list) and len(value) == 2:  # [longitude, latitude], as MongoDB and Parse take it
        return wire.geo_point(value[1], value[0])
    decoded = wire.decode(value) if isinstance(value, dict) else None
    if not isinstance(decoded, wire.GeoPoint):
        raise InvalidQuery(f"{what} must be a GeoPoint.")
    return decoded


def _near(field: q.Field, argument: object, constraint: Mapping[str, Any], *_: Any) -> q.Node:
    _require(field, ("GeoPoint", "Unknown"), "$nearSphere")
    point = _geo_point(argument, "$nearSphere")
    limit: float | None = None
    for key, scale in (("$maxDistance", 1.0), ("$maxDistanceInRadians", 1.0),
                       ("$maxDistanceInKilometers", 1 / operators.EARTH_RADIUS_KM),
                       ("$maxDistanceInMiles", 1 / MILES_PER_RADIAN)):
        if key in constraint:
            distance = constraint[key]
            if isinstance(distance, bool) or not isinstance(distance, int | float) or distance < 0:
                raise InvalidQuery(f"{key} must be a non-negative number.")
            limit = float(distance) * scale
    return q.Near(field, point, limit)


def _within(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("GeoPoint", "Unknown"), "$within")
    box = argument.get("$box") if isinstance(argument, dict) else None
    if not isinstance(box, list) or len(box) != 2:
        raise InvalidQuery("$within needs $box: [southWest, northEast].")
    first, second = _geo_point(box[0], "$box"), _geo_point(box[1], "$box")
    # corners in either order, as parse-server's box: the lower and the upper one per axis
    south_west = wire.GeoPoint(min(first.latitude, second.latitude), min(first.longitude, second.longitude))
    north_east = wire.GeoPoint(max(first.latitude, second.latitude), max(first.longitude, second.longitude))
    return q.WithinBox(field, south_west, north_east)


def _geo_within(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("GeoPoint", "Unknown"), "$geoWithin")
    try:
        return _geo_within_shape(field, argument)
    except InvalidQuery as error:  # parse-server answers a bad $geoWithin value with 107
        raise InvalidJSON(error.message) from error


def _geo_within_shape(field: q.Field, argument: object) -> q.Node:
    if isinstance(argument, dict) and "$polygon" in argument:
        raw = argument["$polygon"]
        if isinstance(raw, dict) and raw.get("__type") == "Polygon":
            raw = raw.get("coordinates")
        if not isinstance(raw, list):
            raise InvalidQuery("$polygon must be an array of GeoPoints or a Polygon.")
        points = [wire.encode(_geo_point(p, "$polygon")) if isinstance(p, dict) else p for p in raw]
        coordinates = [[p["latitude"], p["longitude"]] if isinstance(p, dict) else p for p in points]
        try:
            polygon = wire.decode({"__type": "Polygon", "coordinates": coordinates})
        except ParseError as error:
            raise InvalidQuery(f"bad $geoWithin: {error.message}") from error
        return q.WithinPolygon(field, polygon)
    if isinstance(argument, dict) and "$centerSphere" in argument:
        sphere = argument["$centerSphere"]
        if not isinstance(sphere, list) or len(sphere) != 2:
            raise InvalidQuery("$centerSphere must be [center, radiusInRadians].")
        radius = sphere[1]
        if isinstance(radius, bool) or not isinstance(radius, int | float) or radius < 0:
            raise InvalidQuery("$centerSphere radius must be a non-negative number.")
        return q.WithinSphere(field, _geo_point(sphere[0], "$centerSphere"), float(radius))
    raise InvalidQuery("$geoWithin needs $polygon or $centerSphere.")


def _geo_intersects(field: q.Field, argument: object, *_: Any) -> q.Node:
    _require(field, ("Polygon", "Unknown"), "$geoIntersects")
    point = argument.get("$point") if isinstance(argument, dict) else None
    return q.Intersects(field, _geo_point(point, "$geoIntersects.$point"))


def _require(field: q.Field, types: tuple[str, ...], op: str) -> None:
    if field.nested or field.type not in types:
        raise InvalidQuery(f"{op} cannot be used on {'.'.join(field.path)} ({field.type}).")


_OPERATORS: dict[str, Callable[..., q.Node]] = {
    "$eq": _compare_op("eq"),
    "$ne": _compare_op("ne"),
    "$lt": _compare_op("lt"),
    "$lte": _compare_op("lte"),
    "$gt": _compare_op("gt"),
    "$gte": _compare_op("gte"),
    "$in": _in,
    "$nin": _nin,
    "$all": _all,
    "$containedBy": _contained_by,
    "$exists": _exists,
    "$regex": _regex,
    "$text": _text,
    "$inQuery": _in_query(False),
    "$notInQuery": _in_query(True),
    "$select": _select(False),
    "$dontSelect": _select(True),
    "$nearSphere": _near,
    "$within": _within,
    "$geoWithin": _geo_within,
    "$geoIntersects": _geo_intersects,
}


# --- order and keys ------------------------------------------------------------------------


STORED_DATE_NAMES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}  # Parse's column names, in order


def parse_order(order: object, schema: ClassSchema) -> tuple[q.Order, ...]:
    if order is None or order == "":
        return ()
    if not isinstance(order, str):
        raise InvalidQuery("order must be a comma-separated string of keys.")
    orders = []
    for part in order.split(","):
        part = part.strip()
        if not part or part == "$score":
            continue
        descending = part.startswith("-")
        name = part.lstrip("-")
        orders.append(q.Order(_field(STORED_DATE_NAMES.get(name, name), schema), descending))
    return tuple(orders)


def parse_keys(keys: object) -> list[str] | None:
    """``keys``/``excludeKeys``: comma-separated, dotted allowed."""
    if keys is None:
        return None
    if not isinstance(keys, str):
        raise InvalidQuery("keys must be a comma-separated string.")
    names = [key.strip() for key in keys.split(",") if key.strip()]
    for name in names:
        if not PROJECTED_KEY.match(name):
            raise InvalidKeyName(f"Invalid key name: {name[:64]}")
    return names
