"""Property: a nested query reveals nothing a top-level find by the same principal would not (both engines).

Hypothesis draws nested queries ($inQuery, $notInQuery, $select, $dontSelect inside $or/$and, up to
three deep) over classes with CLPs, a protected field, pointer permissions and ACLs, and a principal:
anonymous, a user, or an agent acting for a user (the delegation an agent tool call runs with). The
reference answer is built only from top-level finds by that principal: each class's rows as a plain
find shows them, filtered in memory; a field the principal may not filter by at top level, or a class
it may not find, must refuse the nested query too (the same Parse code). The results and the count
must equal the reference.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.context import ANONYMOUS, Principal, PrincipalKind, ReadLimits, RequestContext
from backend.errors import ParseError
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services

EXAMPLES = settings(max_examples=int(os.environ.get("READ_ORACLE_EXAMPLES", "30")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MASTER = RequestContext.system()
CLOSED: dict[str, dict[str, bool]] = {
    op: {} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
CLASSES: dict[str, dict[str, Any]] = {
    "RPub": {},
    "RLocked": CLOSED,
    "RGuarded": {"protectedFields": {"*": ["secret"]}},
    "ROwned": {op: {"pointerFields": ["owner"]} for op in ("find", "get", "count")},
}
OUTER = ("RPub", "RGuarded", "ROwned")
U1, U2, AGENT = Principal(PrincipalKind.USER, "u1"), Principal(PrincipalKind.USER, "u2"), Principal(
    PrincipalKind.AGENT, agent_id="ag", roles=frozenset({"support"}))
READERS = {
    "anonymous": RequestContext(ANONYMOUS),
    "u1": RequestContext(U1),
    "u2": RequestContext(U2),
    "agent for u1": RequestContext(U1, limits=ReadLimits(also=AGENT)),
}
ACLS = (None, {"u1": {"read": True}}, {"u2": {"read": True}}, {"role:support": {"read": True}},
        {"u1": {"read": True}, "role:support": {"read": True}})
WORDS = ("apple", "avocado", "banana", "cherry")


@pytest.fixture
def services(app: FastAPI) -> Services:
    built: Services = app.state.services
    return built


@pytest.fixture
async def world(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Six objects per class; every object points (``ref``) at an object of some class."""
    async with services.db.unit() as unit:
        for name, clp in CLASSES.items():
            await services.schemas.ensure_class(unit, name, {"classLevelPermissions": clp} if clp else {})
    made: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES}
    ids: list[tuple[str, str]] = []
    for i in range(6 * len(CLASSES)):
        name = list(CLASSES)[i % len(CLASSES)]
        body: dict[str, Any] = {"s": WORDS[i % 4], "secret": WORDS[(i * 3 + 1) % 4], "n": i % 5,
                                "owner": {"__type": "Pointer", "className": "_User", "objectId": ("u1", "u2")[i % 2]}}
        if ACLS[i % len(ACLS)] is not None:
            body["ACL"] = ACLS[(i // 2) % len(ACLS)]
        if ids:
            target = ids[(i * 7) % len(ids)]
            body["ref"] = {"__type": "Pointer", "className": target[0], "objectId": target[1]}
        saved = await services.objects.create(MASTER, name, body)
        ids.append((name, saved["objectId"]))
        made[name].append(saved)
    return made


LEAVES = st.one_of(
    st.builds(lambda w: {"s": w}, st.sampled_from(WORDS)),
    st.builds(lambda w: {"secret": {"$regex": f"^{w[0]}"}}, st.sampled_from(WORDS)),
    st.builds(lambda n: {"n": {"$gt": n}}, st.integers(0, 4)),
)


def _nested(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    sub = st.fixed_dictionaries({"className": st.sampled_from(list(CLASSES)), "where": children})
    return st.one_of(
        st.builds(lambda op, q: {"ref": {op: q}}, st.sampled_from(["$inQuery", "$notInQuery"]), sub),
        st.builds(lambda op, q, key: {"s": {op: {"query": q, "key": key}}},
                  st.sampled_from(["$select", "$dontSelect"]), sub, st.sampled_from(["s", "secret"])),
        st.builds(lambda op, parts: {op: parts}, st.sampled_from(["$or", "$and"]),
                  st.lists(children, min_size=1, max_size=3)),
    )


WHERES = st.recursive(LEAVES, _nested, max_leaves=6)


Find = Callable[[str, dict[str, Any], int], Awaitable[list[dict[str, Any]]]]
"""A top-level find by the principal under test: (class, where, limit) -> objects; ParseError when refused."""


def remembered(find: Find) -> Find:
    """The same finder, asking each distinct question once (answers and refusals alike)."""
    seen: dict[str, list[dict[str, Any]] | ParseError] = {}

    async def ask(class_name: str, where: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        key = json.dumps([class_name, where, limit], sort_keys=True)
        if key not in seen:
            try:
                seen[key] = await find(class_name, where, limit)
            except ParseError as error:
                seen[key] = error
        answer = seen[key]
        if isinstance(answer, ParseError):
            raise answer
        return answer

    return ask


async def _check(find: Find, class_name: str, where: dict[str, Any]) -> None:
    """Top-level finds of every class and field the query touches: ParseError where one is refused."""
    await find(class_name, {}, 0)
    for key, value in where.items():
        if key in ("$or", "$and"):
            for part in value:
                await _check(find, class_name, part)
            continue
        await find(class_name, {key: {"$exists": True}}, 0)  # filtering by it at top level
        sub = value.get("$inQuery") or value.get("$notInQuery") if isinstance(value, dict) else None
        select = value.get("$select") or value.get("$dontSelect") if isinstance(value, dict) else None
        if select is not None:
            sub = select["query"]
            await find(sub["className"], {select["key"]: {"$exists": True}}, 0)
        if sub is not None:
            await _check(find, sub["className"], sub["where"])


async def reference(find: Find, class_name: str, where: dict[str, Any]) -> set[str]:
    """The ids a nested query may find, from top-level finds only (ParseError when they refuse)."""
    await _check(find, class_name, where)
    keep = set()
    for obj in await find(class_name, {}, 100):
        if await _holds(find, obj, where):
            keep.add(obj["objectId"])
    return keep


async def _holds(find: Find, obj: dict[str, Any], where: dict[str, Any]) -> bool:
    results = []
    for key, value in where.items():
        if key in ("$or", "$and"):
            parts = [await _holds(find, obj, part) for part in value]
            results.append(any(parts) if key == "$or" else all(parts))
            continue
        results.append(await _holds_field(find, obj.get(key), value))
    return all(results)


async def _holds_field(find: Find, actual: Any, constraint: Any) -> bool:
    if not isinstance(constraint, dict):
        return bool(actual == constraint)
    op: str  # a Parse operator such as "$regex"
    op, argument = next(iter(constraint.items()))
    if op == "$regex":
        return isinstance(actual, str) and re.search(argument, actual) is not None
    if op == "$gt":
        return isinstance(actual, int) and actual > argument
    if op in ("$inQuery", "$notInQuery"):
        found = await reference(find, argument["className"], argument["where"])
        inside = isinstance(actual, dict) and actual.get("objectId") in found
        return inside != (op == "$notInQuery")
    query, key = argument["query"], argument["key"]
    ids = await reference(find, query["className"], query["where"])
    rows = await find(query["className"], {}, 100)
    inside = actual in {row.get(key) for row in rows if row["objectId"] in ids}
    return inside != (op == "$dontSelect")


def service_finder(services: Services, ctx: RequestContext) -> Find:
    async def find(class_name: str, where: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return (await services.objects.find(ctx, class_name, FindOptions(where=where, limit=limit))).results

    return remembered(find)


async def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", await run
    except ParseError as error:
        return "refused", int(error.code)


@EXAMPLES
@given(reader=st.sampled_from(sorted(READERS)), outer=st.sampled_from(OUTER), where=WHERES)
async def test_a_nested_query_reveals_only_what_top_level_finds_show(
        services: Services, world: dict[str, list[dict[str, Any]]], reader: str, outer: str,
        where: dict[str, Any]) -> None:
    ctx = READERS[reader]
    expected = await _outcome(reference(service_finder(services, ctx), outer, where))
    found = await _outcome(services.objects.find(ctx, outer, FindOptions(where=where, limit=1000, count=True)))
    if expected[0] == "refused":
        assert found == expected, (reader, outer, where)
        return
    assert found[0] == "ok", (reader, outer, where, found)
    assert {obj["objectId"] for obj in found[1].results} == expected[1], (reader, outer, where)
    assert found[1].count == len(expected[1]), (reader, outer, where)
