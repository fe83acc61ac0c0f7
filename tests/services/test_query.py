"""The query parser and the in-memory matcher, without an app (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backend import querytree as q
from backend import wire
from backend.errors import InvalidKeyName, InvalidQuery, ParseCode, ParseError
from backend.services.data.query import matches, parse_keys, parse_order, parse_where
from backend.storage.protocols import ClassSchema, FieldSpec

FIELDS = {
    "objectId": "String", "name": "String", "n": "Number", "flag": "Boolean", "when": "Date", "tags": "Array",
    "meta": "Object", "owner": "Pointer", "spot": "GeoPoint", "area": "Polygon",
}
SCHEMA = ClassSchema("Thing", {
    name: FieldSpec(kind, "Owner" if kind == "Pointer" else None) for name, kind in FIELDS.items()
})
OWNER = ClassSchema("Owner", {"objectId": FieldSpec("String"), "label": FieldSpec("String")})
SCHEMAS = {"Thing": SCHEMA, "Owner": OWNER}


def parse(where: Any) -> q.Node:
    return parse_where(where, SCHEMA, SCHEMAS.get)


def row(**fields: Any) -> dict[str, Any]:
    return {"objectId": "abc", **{name: wire.decode(value) for name, value in fields.items()}}


def hit(where: Any, **fields: Any) -> bool:
    return matches(row(**fields), parse(where))


def pointer(object_id: str, class_name: str = "Owner") -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def geo(lat: float, lon: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lon}


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("where", [
    {"n": {"$bogus": 1}}, {"n": {"$lt": 1, "$wat": 2}}, {"name": {"$options": "i"}},
])
def test_unknown_operators_are_invalid_query_102(where: Any) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(where)
    assert caught.value.code == ParseCode.INVALID_QUERY


@pytest.mark.parametrize("key", [
    "1abc", "a b", "a..b", "na-me", "", "x" * 300, "$nope.x", "$where", "name.x", "_hashed_password", "_rperm",
    "_x.y",
])
def test_bad_key_names_are_105(key: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse({key: 1})
    assert caught.value.code == ParseCode.INVALID_KEY_NAME  # top-level operators too, as parse-server


@pytest.mark.parametrize(("where", "says"), [
    ({"n": "ten"}, "n is a Number field"),
    ({"name": {"$in": "a"}}, "$in must be an array"),
    ({"name": {"$exists": "yes"}}, "$exists must be true or false"),
    ({"name": {"$regex": 5}}, "$regex must be a string"),
    ({"name": {"$regex": "(unclosed"}}, "Invalid $regex"),
    ({"name": {"$regex": "(?P<n>x)"}}, "named groups"),
    ({"name": {"$regex": "(?i:x)"}}, "inline flags"),
    ({"name": {"$regex": "(?m)^x"}}, "inline flags"),
    ({"name": {"$regex": "[[:alpha:]]"}}, "[[:class:]]"),
    ({"name": {"$regex": "a", "$options": "q"}}, "$options may only contain"),
    ({"flag": {"$lt": True}}, "needs a Number, String or Date field"),
    ({"n": {"$lt": None}}, "needs a number, string or date"),
    ({"tags": {"$lt": 3}}, "needs a Number, String or Date field"),
    ({"spot": {"$nearSphere": {"lat": 1}}}, "must be a GeoPoint"),
    ({"spot": {"$nearSphere": geo(0, 0), "$maxDistance": -1}}, "non-negative"),
    ({"spot": {"$within": {"$box": [geo(1, 0)]}}}, "$box"),
    ({"spot": {"$geoWithin": {"$polygon": [geo(0, 0)]}}}, "Polygon must have at least 3 points"),
    ({"name": {"$text": {"$search": {}}}}, "$term must be a string"),
    ({"owner": {"$inQuery": {"where": {}}}}, "className"),
    ({"$or": {}}, "non-empty array"),
    ({"$relatedTo": {"object": "x", "key": "k"}}, "must be a Pointer"),
    ({"n": {"$inc": 1}}, "bad constraint"),
    ({"n": {"__op": "Increment", "amount": 1}}, "Update operators"),
])
def test_wrong_types_get_clear_messages(where: Any, says: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(where)
    assert says in caught.value.message


def test_where_must_be_an_object_and_not_too_deep() -> None:
    with pytest.raises(InvalidQuery):
        parse(["n"])
    deep: dict[str, Any] = {"n": 1}
    for _ in range(40):
        deep = {"$or": [deep]}
    with pytest.raises(InvalidQuery):
        parse(deep)


def test_order_and_keys_parse_names_and_refuse_bad_ones() -> None:
    orders = parse_order("-n,name,meta.x", SCHEMA)
    assert [(o.field.path, o.descending) for o in orders] == [
        (("n",), True), (("name",), False), (("meta", "x"), False),
    ]
    assert parse_order(None, SCHEMA) == ()
    assert parse_keys("a, b.c") == ["a", "b.c"]
    assert parse_keys("_hidden") == ["_hidden"]  # projection only: render never shows such fields
    with pytest.raises(InvalidKeyName):
        parse_keys("a,b c")
    with pytest.raises(InvalidQuery):
        parse_order(5, SCHEMA)
    with pytest.raises(InvalidKeyName):
        parse_order("-_hashed_password", SCHEMA)


# --- meanings -------------------------------------------------------------------------------

def test_comparisons_on_numbers_strings_and_dates() -> None:
    assert hit({"n": 2}, n=2.0)
    assert hit({"n": {"$lt": 3, "$gte": 2}}, n=2)
    assert not hit({"n": {"$gt": 2}}, n=2)
    assert hit({"name": {"$lte": "b"}}, name="ab")
    assert hit({"when": {"$gt": date("2024-01-01T00:00:00.000Z")}}, when=date("2024-01-01T00:00:00.001Z"))
    assert not hit({"n": {"$lt": 3}})  # missing: no ordering comparison holds


def test_ne_and_nin_include_missing_values_as_parse_does() -> None:
    assert hit({"n": {"$ne": 1}})
    assert hit({"n": {"$nin": [1, 2]}})
    assert not hit({"n": {"$ne": 1}}, n=1)
    assert hit({"n": None})
    assert hit({"n": {"$in": [None, 5]}})
    assert hit({"n": {"$ne": None}}, n=0)


def test_exists_treats_null_as_absent_also_in_nested_objects() -> None:
    assert hit({"n": {"$exists": False}}, n=None)
    assert hit({"meta.x": {"$exists": True}}, meta={"x": 0})
    assert hit({"meta.x": {"$exists": False}}, meta={"x": None})
    assert hit({"meta.x.y": {"$exists": False}}, meta={"x": 1})


def test_array_equality_means_contains_and_all_contained_by_are_exact() -> None:
    assert hit({"tags": "a"}, tags=["a", "b"])
    assert hit({"tags": ["a", "b"]}, tags=["a", "b"])
    assert not hit({"tags": ["a"]}, tags=["a", "b"])
    assert hit({"tags": {"$all": ["a", 1]}}, tags=["a", 1.0, "c"])
    assert not hit({"tags": {"$all": [True]}}, tags=[1])  # true is not 1
    assert hit({"tags": {"$containedBy": ["a", "b"]}}, tags=[])
    assert not hit({"tags": {"$containedBy": [{"k": 1, "j": 2}]}}, tags=[{"k": 1}])  # objects match whole
    assert hit({"tags": {"$in": [{"j": 2, "k": 1}]}}, tags=[{"k": 1, "j": 2}])  # key order is moot


def test_dotted_keys_reach_into_objects_with_json_kinds() -> None:
    assert hit({"meta.x": 1}, meta={"x": 1.0})
    assert not hit({"meta.x": "1"}, meta={"x": 1})
    assert hit({"meta.a.b": {"$gt": "m"}}, meta={"a": {"b": "n"}})
    assert hit({"meta.at": {"$lt": date("2030-01-01T00:00:00.000Z")}}, meta={"at": date("2024-01-01T00:00:00.000Z")})


def test_pointer_equality_compares_the_object_id() -> None:
    assert hit({"owner": pointer("o1")}, owner=pointer("o1"))
    assert not hit({"owner": pointer("o2")}, owner=pointer("o1"))
    assert hit({"owner": {"$in": [pointer("o2"), pointer("o1")]}}, owner=pointer("o1"))


@pytest.mark.parametrize(("pattern", "options", "value", "expected"), [
    ("^a", None, "abc", True),
    ("A", "i", "abc", True),
    ("c$", None, "abc\n", False),  # $ is the very end (PostgreSQL), not before a final newline
    ("^b", "m", "a\nb", True),
    ("a.b", None, "a\nb", True),  # '.' matches a newline, as on PostgreSQL
    ("\\Qa.b\\E", None, "axb", False),  # the SDK's startsWith/contains quoting
    ("^\\Q(x)\\E", None, "(x) y", True),
    ("\\bpie", None, "apple pie", True),
    ("a b # comment", "x", "ab", True),
    ("(?:ab)+$", None, "abab", True),
    ("(?i)AB", None, "xab", True),
])
def test_regex_has_one_meaning(pattern: str, options: str | None, value: str, expected: bool) -> None:
    constraint: dict[str, Any] = {"$regex": pattern}
    if options:
        constraint["$options"] = options
    assert hit({"name": constraint}, name=value) is expected


def test_text_search_needs_every_word() -> None:
    where = {"name": {"$text": {"$search": {"$term": "Apple PIE"}}}}
    assert hit(where, name="apple pie, please")
    assert not hit(where, name="apple")
    assert not hit({"name": {"$text": {"$search": {"$term": "pi"}}}}, name="pie")


def test_geo_operators() -> None:
    near = {"spot": {"$nearSphere": geo(0, 0), "$maxDistanceInKilometers": 200}}
    assert hit(near, spot=geo(1, 1))
    assert not hit(near, spot=geo(2, 2))
    assert hit({"spot": {"$nearSphere": geo(0, 0), "$maxDistanceInMiles": 100}}, spot=geo(1, 1))
    box = {"spot": {"$within": {"$box": [geo(0, 0), geo(2, 2)]}}}
    assert hit(box, spot=geo(2, 1)) and not hit(box, spot=geo(3, 1))
    triangle = {"spot": {"$geoWithin": {"$polygon": [geo(0, 0), geo(0, 4), geo(4, 0)]}}}
    assert hit(triangle, spot=geo(1, 1)) and not hit(triangle, spot=geo(3, 3))
    sphere = {"spot": {"$geoWithin": {"$centerSphere": [[0, 0], 0.02]}}}
    assert hit(sphere, spot=geo(1, 0)) and not hit(sphere, spot=geo(2, 0))
    area = {"__type": "Polygon", "coordinates": [[0, 0], [0, 2], [2, 2], [2, 0]]}
    inside = {"area": {"$geoIntersects": {"$point": geo(1, 1)}}}
    assert hit(inside, area=area) and not hit({"area": {"$geoIntersects": {"$point": geo(3, 1)}}}, area=area)


def test_and_or_nor_combine() -> None:
    assert hit({"$or": [{"n": 1}, {"n": 2}]}, n=2)
    assert not hit({"$and": [{"n": 1}, {"name": "a"}]}, n=1, name="b")
    assert hit({"$nor": [{"n": 1}, {"name": "a"}]}, n=2, name="b")
    assert not hit({"$nor": [{"n": 1}]}, n=1)


def test_sub_queries_keep_the_schema_and_mark_unknown_classes() -> None:
    node = parse({"owner": {"$inQuery": {"className": "Owner", "where": {"label": "x"}}}})
    assert isinstance(node, q.InQuery) and node.query.schema is OWNER
    unknown = parse({"owner": {"$notInQuery": {"className": "Ghost", "where": {}}}})
    assert isinstance(unknown, q.InQuery) and not unknown.query.exists and unknown.negate
    select = parse({"name": {"$select": {"query": {"className": "Owner", "where": {}}, "key": "label"}}})
    assert isinstance(select, q.Select) and select.key.path == ("label",)


def test_nested_date_ordering_compares_iso_strings() -> None:
    node = parse({"meta.at": {"$gte": date("2024-01-01T00:00:00.000Z")}})
    assert isinstance(node, q.Compare)
    assert node.field.path == ("meta", "at", "iso") and node.value == "2024-01-01T00:00:00.000Z"
    assert isinstance(wire.decode(date("2024-01-01T00:00:00.000Z")), datetime)
    assert wire.decode(date("2024-01-01T00:00:00.000Z")).tzinfo == UTC
