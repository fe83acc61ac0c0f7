"""The SQL translation and the in-memory matcher agree, on SQLite and on PostgreSQL.

Hypothesis draws random objects and random ``where`` clauses; the objects are
saved through ObjectService, the query runs through SQL, and the ids it finds
must be exactly those ``backend.services.data.query.matches`` selects. A second
property fuzzes the translator with arbitrary JSON: only ParseError may come out.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import Any

from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase

from backend import wire
from backend.context import RequestContext
from backend.errors import ParseError
from backend.services.data.objects import FindOptions
from backend.services.data.query import matches, parse_order, parse_where, sort_rows
from backend.services.wiring import Services
from tests.storage import querygen

IN_CI = os.environ.get("CI") == "true"


def _example_database() -> ExampleDatabase | None:
    """Hypothesis's saved failing examples, replayed locally; none in CI, whose runs are derandomized."""
    if IN_CI:
        return None
    loaded = settings.default
    assert loaded is not None  # hypothesis loads its default profile when imported
    return loaded.database


# shrinking a database-backed example is slow; the failure message prints the whole example instead
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) + ((Phase.shrink,) if os.environ.get("ORACLE_SHRINK") else ())
ORACLE = settings(
    max_examples=int(os.environ.get("ORACLE_EXAMPLES", "100")), phases=PHASES, deadline=None, derandomize=IN_CI,
    database=_example_database(),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
CTX = RequestContext.system()
_classes = itertools.count()


async def _store(services: Services, objects: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Save the objects in a fresh class; answers the class name and the rows as the matcher sees them."""
    class_name = f"Oracle{next(_classes)}"
    rows = []
    for obj in objects:
        saved = await services.objects.create(CTX, class_name, obj)
        row = {name: wire.decode(value) for name, value in obj.items() if value is not None}
        rows.append({"objectId": saved["objectId"], **row})
    return class_name, rows


async def _sql_ids(services: Services, class_name: str, where: dict[str, Any]) -> tuple[set[str], int | None]:
    found = await services.objects.find(CTX, class_name, FindOptions(where=where, limit=1000, count=True))
    return {obj["objectId"] for obj in found.results}, found.count


@ORACLE
@given(objects=st.lists(querygen.objects(), min_size=2, max_size=10), where=querygen.wheres(), order=querygen.orders())
async def test_sql_finds_exactly_what_the_matcher_matches(
    services: Services, objects: list[dict[str, Any]], where: dict[str, Any], order: str
) -> None:
    class_name, rows = await _store(services, objects)
    schema = services.schemas.cached(class_name)
    assert schema is not None
    tree = parse_where(where, schema, services.schemas.cached)
    expected = {row["objectId"] for row in rows if matches(row, tree)}
    event("matches: " + ("none" if not expected else "all" if len(expected) == len(rows) else "some"))
    found, count = await _sql_ids(services, class_name, where)
    assert found == expected, f"{where=}\n{rows=}\nsql only: {found - expected}\nmatcher only: {expected - found}"
    assert count == len(expected)
    wanted = sort_rows([row for row in rows if row["objectId"] in expected], parse_order(order, schema))
    found_in_order = await services.objects.find(CTX, class_name, FindOptions(where=where, order=order, limit=1000))
    assert [obj["objectId"] for obj in found_in_order.results] == [row["objectId"] for row in wanted], order


# patterns Python's re and PostgreSQL read differently (or one of them refuses)
HOSTILE_REGEXES = [
    "(?i)a", "[[:alpha:]]+", "a{2,1}", "\\y", "(?<=a)b", "\\Qa", "a\\E", "(a)\\1", "(?#c)a", "a**", "\\",
    "[a-", "(?P<n>a)", "(?<n>a)", "\\p{L}", "\\x{41}", "a{99999}", "\\Z", "\\A", "$^", "[^]a]", "\\cA", "\\u0041",
]
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
              st.text(max_size=8),
              st.sampled_from(["$lt", "$in", "$regex", "$or", "$and", "$nor", "$exists", "$select", "$inQuery",
                               "__type", "Pointer", "GeoPoint", "Date", "$nearSphere", "$box", "$polygon",
                               "$text", "$search", "$term", "s", "o.x", "a", "g", "p", "(", "[", "\\"]),
              st.sampled_from(HOSTILE_REGEXES).map(lambda pattern: {"$regex": pattern})),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(
            ["$lt", "$gt", "$in", "$nin", "$all", "$regex", "$options", "$or", "$and", "$nor", "$exists", "$ne",
             "$eq", "$select", "$dontSelect", "$inQuery", "$notInQuery", "$relatedTo", "$text", "$search",
             "$term", "$nearSphere", "$maxDistance", "$within", "$box", "$geoWithin", "$polygon", "$centerSphere",
             "$geoIntersects", "$point", "$containedBy", "__type", "className", "objectId", "where", "query",
             "key", "latitude", "longitude", "iso", "s", "n", "o", "o.x", "a", "g", "p", "poly", "d", "b",
             "object"])), inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(
    max_examples=80, deadline=None, derandomize=IN_CI, database=_example_database(),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(
    ["s", "n", "b", "d", "a", "o", "o.x", "o.z.w", "p", "g", "poly", "missing", "$or", "$and", "$nor", "$relatedTo"]
), JSON_VALUES, max_size=3)))
async def test_hostile_where_only_ever_raises_parse_errors(services: Services, where: Any) -> None:
    class_name = "Fuzzed"
    if services.schemas.cached(class_name) is None:
        await _store_fuzz_class(services, class_name)
    with contextlib.suppress(ParseError):
        await services.objects.find(CTX, class_name, FindOptions(where=where, limit=5, count=True))
    schema = services.schemas.cached(class_name)
    assert schema is not None
    try:
        tree = parse_where(where, schema, services.schemas.cached)
    except ParseError:
        return
    row = {"objectId": "x", **{k: wire.decode(v) for k, v in _FUZZ_OBJECT.items()}}
    with contextlib.suppress(ParseError):
        matches(row, tree)


_FUZZ_OBJECT: dict[str, Any] = {
    "s": "apple pie", "n": 2, "b": True, "d": querygen.date(querygen.DATES[1]), "a": [1, "a", {"k": 1}],
    "o": {"x": 1, "y": "a", "z": {"w": None}}, "p": querygen.pointer(querygen.POINTER_IDS[0]),
    "g": querygen.geo(1.0, 1.0), "poly": {"__type": "Polygon", "coordinates": querygen.POLYGONS[0]},
}


async def _store_fuzz_class(services: Services, class_name: str) -> None:
    await services.objects.create(CTX, class_name, _FUZZ_OBJECT)
    await services.objects.create(CTX, class_name, {"s": "other"})


async def test_regexes_the_engines_read_differently_answer_or_fail_with_102(services: Services) -> None:
    await _store_fuzz_class(services, "Patterns")
    for pattern in HOSTILE_REGEXES:
        for key in ("s", "o.y"):
            try:
                await services.objects.find(CTX, "Patterns", FindOptions(where={key: {"$regex": pattern}}))
            except ParseError as error:
                assert error.code == 102, (pattern, error)


async def test_every_sample_regex_and_text_search_agree_with_the_matcher(services: Services) -> None:
    class_name, rows = await _store(services, [{"s": text, "o": {"y": text}} for text in querygen.STRINGS])
    schema = services.schemas.cached(class_name)
    assert schema is not None
    wheres: list[dict[str, Any]] = [
        {key: {"$regex": pattern, **({"$options": options} if options else {})}}
        for pattern in querygen.REGEXES for options in ("", "i", "m", "im") for key in ("s", "o.y")
    ]
    wheres += [{"s": {"$text": {"$search": {"$term": word}}}} for word in querygen.WORDS]
    for where in wheres:
        tree = parse_where(where, schema, services.schemas.cached)
        expected = {row["objectId"] for row in rows if matches(row, tree)}
        found, _ = await _sql_ids(services, class_name, where)
        assert found == expected, where
