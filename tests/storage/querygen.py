"""Hypothesis strategies for the query oracle: random objects and random ``where`` clauses.

Objects have a fixed field -> type layout (so the schema stays valid across
objects) but any field may be missing or null. Clauses are built from every
operator the in-memory matcher evaluates, nested through $and/$or/$nor.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON = Any
TARGET = "OracleTarget"
POINTER_IDS = ("tgtAAAAAA1", "tgtAAAAAA2", "tgtAAAAAA3")
DATES = (
    "1999-12-31T23:59:59.999Z", "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.001Z", "2030-06-15T12:00:00.000Z",
)
STRINGS = ("", "a", "A", "ab", "b", "apple pie", "Apple Pie", "pie", "x\ny", "a\n", "ünï", "A_b", "1", "a.b", "aa")
WORDS = ("a", "apple", "pie", "b", "x", "y", "ünï", "ab")
REGEXES = (
    "^a", "a$", "b", ".", "^$", "A", "x.y", "^\\w+$", "\\bpie", "^a.*", "[ab]+", "^[^a]", "e$", "\\d", "a|b",
    "\\Qa.b\\E", "^\\Qa\\E", "\\QPie\\E$", "(?:ap)+", "y$", "^y", "(?i)^A", "(?i)pie$", "\\Bb", "[^a]$",
)
SCALARS = st.one_of(
    st.integers(-2, 2), st.sampled_from([1.0, 2.5, -0.5]), st.sampled_from(["a", "b", "A", "1"]), st.booleans(),
)
NESTED_LEAF = st.one_of(SCALARS, st.none(), st.just({"k": 1}), st.just([1, "a"]))


def pointer(object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": TARGET, "objectId": object_id}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def geo(lat: float, lon: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lon}


COORD = st.sampled_from([-10.0, -1.0, 0.0, 0.5, 1.0, 2.0, 10.0, 45.0])
GEO = st.builds(geo, COORD, COORD)
POLYGONS = (
    [[0.0, 0.0], [0.0, 2.0], [2.0, 2.0], [2.0, 0.0]],
    [[-1.0, -1.0], [1.0, 0.0], [-1.0, 1.0]],
    [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [5.0, 3.0], [0.0, 10.0]],
)
ARRAY_ITEMS = st.one_of(SCALARS, st.just({"k": 1}), st.just({"k": 1, "j": 2}), st.just([1]),
                        st.sampled_from([pointer(i) for i in POINTER_IDS]))
OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "x": NESTED_LEAF,
        "y": st.sampled_from(STRINGS),
        "z": st.fixed_dictionaries({}, optional={"w": NESTED_LEAF}),
        "when": st.sampled_from([date(d) for d in DATES]),
    },
)

FIELD_VALUES: dict[str, st.SearchStrategy[JSON]] = {
    "s": st.sampled_from(STRINGS),
    "n": st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.0, 2.5, 1e10])),
    "b": st.booleans(),
    "d": st.sampled_from([date(d) for d in DATES]),
    "a": st.lists(ARRAY_ITEMS, max_size=4),
    "o": OBJECTS,
    "p": st.sampled_from([pointer(i) for i in POINTER_IDS]),
    "g": GEO,
    "poly": st.sampled_from([{"__type": "Polygon", "coordinates": c} for c in POLYGONS]),
}
FIELDS = tuple(FIELD_VALUES)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, JSON]:
    """One object: each field present with a value, explicitly null, or missing."""
    out: dict[str, JSON] = {}
    for name, values in FIELD_VALUES.items():
        choice = draw(st.integers(0, 7))
        if choice == 0:
            out[name] = None
        elif choice <= 5:
            out[name] = draw(values)
    return out


def _ordered_value(field: str) -> st.SearchStrategy[JSON]:
    return {
        "s": st.sampled_from(STRINGS),
        "n": st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.5, 1e10])),
        "d": st.sampled_from([date(d) for d in DATES]),
        "o.x": st.one_of(st.integers(-2, 2), st.sampled_from(["a", "b", "A"])),
        "o.y": st.sampled_from(STRINGS),
        "o.when": st.sampled_from([date(d) for d in DATES]),
    }[field]


EQ_VALUES: dict[str, st.SearchStrategy[JSON]] = {
    **{name: values for name, values in FIELD_VALUES.items() if name not in ("a", "o", "g", "poly")},
    "a": st.one_of(ARRAY_ITEMS, st.lists(ARRAY_ITEMS, max_size=2)),
    "o": OBJECTS,
    "o.x": NESTED_LEAF,
    "o.y": st.sampled_from(STRINGS),
    "o.z": st.fixed_dictionaries({}, optional={"w": NESTED_LEAF}),
    "o.z.w": NESTED_LEAF,
    "o.when": st.sampled_from([date(d) for d in DATES]),
}


def _eq_value(key: str) -> st.SearchStrategy[JSON]:
    return st.one_of(EQ_VALUES[key], st.none()) if key in EQ_VALUES else st.none()


@st.composite
def field_constraint(draw: st.DrawFn) -> dict[str, JSON]:
    """``{key: constraint}`` for one field, with one or two operators."""
    kind = draw(st.sampled_from(
        ["eq", "cmp", "ne", "in", "exists", "all", "regex", "text", "geo", "intersects", "range", "unknown"]
    ))
    return {**draw(_BUILDERS[kind]())}


def _eq() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from(sorted(EQ_VALUES))
    return key.flatmap(lambda k: _eq_value(k).map(lambda v: {k: v}))


def _cmp() -> st.SearchStrategy[dict[str, JSON]]:
    op = st.sampled_from(["$lt", "$lte", "$gt", "$gte"])
    key = st.sampled_from(["s", "n", "d", "o.x", "o.y", "o.when"])
    return st.tuples(key, op).flatmap(lambda ko: _ordered_value(ko[0]).map(lambda v: {ko[0]: {ko[1]: v}}))


def _range() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from(["s", "n", "d", "o.x"])
    return key.flatmap(lambda k: st.tuples(_ordered_value(k), _ordered_value(k)).map(
        lambda lh: {k: {"$gte": lh[0], "$lt": lh[1]}}))


def _ne() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from(sorted(EQ_VALUES))
    op = st.sampled_from(["$ne", "$eq"])
    return st.tuples(key, op).flatmap(lambda ko: _eq_value(ko[0]).map(lambda v: {ko[0]: {ko[1]: v}}))


def _in() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from(sorted(EQ_VALUES))
    op = st.sampled_from(["$in", "$nin"])
    return st.tuples(key, op).flatmap(
        lambda ko: st.lists(_eq_value(ko[0]), max_size=3).map(lambda vs: {ko[0]: {ko[1]: vs}}))


def _exists() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from([*FIELDS, "o.x", "o.z", "o.z.w", "o.when", "missing"])
    return st.tuples(key, st.booleans()).map(lambda kb: {kb[0]: {"$exists": kb[1]}})


def _all() -> st.SearchStrategy[dict[str, JSON]]:
    op = st.sampled_from(["$all", "$containedBy"])
    return st.tuples(op, st.lists(ARRAY_ITEMS, max_size=3)).map(lambda ov: {"a": {ov[0]: ov[1]}})


def _regex() -> st.SearchStrategy[dict[str, JSON]]:
    key = st.sampled_from(["s", "o.y", "o.x"])
    options = st.sampled_from([None, "i", "m", "im", "s"])

    def build(parts: tuple[str, str, str | None]) -> dict[str, JSON]:
        constraint: dict[str, JSON] = {"$regex": parts[1]}
        if parts[2] is not None:
            constraint["$options"] = parts[2]
        return {parts[0]: constraint}

    return st.tuples(key, st.sampled_from(REGEXES), options).map(build)


def _text() -> st.SearchStrategy[dict[str, JSON]]:
    terms = st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join)
    return terms.map(lambda term: {"s": {"$text": {"$search": {"$term": term}}}})


def _geo() -> st.SearchStrategy[dict[str, JSON]]:
    near = st.tuples(GEO, st.sampled_from([0.0, 0.01, 0.05, 0.3, 3.0])).map(
        lambda pd: {"g": {"$nearSphere": pd[0], "$maxDistance": pd[1]}})
    near_km = st.tuples(GEO, st.sampled_from([1.0, 200.0, 2000.0])).map(
        lambda pd: {"g": {"$nearSphere": pd[0], "$maxDistanceInKilometers": pd[1]}})
    box = st.tuples(COORD, COORD, COORD, COORD).map(lambda c: {"g": {"$within": {"$box": [
        geo(min(c[0], c[1]), c[2]), geo(max(c[0], c[1]), c[3])]}}})
    polygon = st.sampled_from(POLYGONS).map(
        lambda coords: {"g": {"$geoWithin": {"$polygon": [geo(lat, lon) for lat, lon in coords]}}})
    sphere = st.tuples(COORD, COORD, st.sampled_from([0.0, 0.02, 0.2, 1.0])).map(
        lambda c: {"g": {"$geoWithin": {"$centerSphere": [[c[1], c[0]], c[2]]}}})
    return st.one_of(near, near_km, box, polygon, sphere)


def _intersects() -> st.SearchStrategy[dict[str, JSON]]:
    return GEO.map(lambda point: {"poly": {"$geoIntersects": {"$point": point}}})


def _unknown() -> st.SearchStrategy[dict[str, JSON]]:
    """Constraints on a field no object has (Parse: every object holds null there)."""
    return st.sampled_from([
        {"missing": "a"}, {"missing": None}, {"missing": {"$ne": 1}}, {"missing": {"$lt": 3}},
        {"missing": {"$in": [1, None]}}, {"missing": {"$nin": [1]}}, {"missing": {"$regex": "a"}},
        {"missing.deep": 1}, {"missing.deep": {"$exists": False}},
    ])


_BUILDERS = {
    "eq": _eq, "cmp": _cmp, "ne": _ne, "in": _in, "exists": _exists, "all": _all, "regex": _regex,
    "text": _text, "geo": _geo, "intersects": _intersects, "range": _range, "unknown": _unknown,
}


def wheres(max_depth: int = 2) -> st.SearchStrategy[dict[str, JSON]]:
    """A ``where``: constraints, possibly under $and/$or/$nor, nested up to ``max_depth``."""
    leaf = field_constraint()

    def extend(inner: st.SearchStrategy[dict[str, JSON]]) -> st.SearchStrategy[dict[str, JSON]]:
        logical = st.tuples(st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner, min_size=1, max_size=3))
        return st.one_of(logical.map(lambda ol: {ol[0]: ol[1]}), st.tuples(inner, leaf).map(_merge))

    return st.recursive(leaf, extend, max_leaves=4)


def _merge(pair: tuple[dict[str, JSON], dict[str, JSON]]) -> dict[str, JSON]:
    first, second = pair
    if set(first) & set(second):
        return {"$and": [first, second]}
    return {**first, **second}


def orders() -> st.SearchStrategy[str]:
    """``order``: one or two top-level scalar keys, each maybe descending, then objectId to break ties."""
    key = st.tuples(st.sampled_from(["s", "n", "d", "b", "missing"]), st.booleans()).map(
        lambda kd: ("-" if kd[1] else "") + kd[0])
    return st.lists(key, min_size=1, max_size=2, unique_by=lambda k: k.lstrip("-")).map(
        lambda keys: ",".join([*keys, "objectId"]))
