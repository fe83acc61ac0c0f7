"""Work bounded per request, on both engines: hostile queries answer a Parse error (or the right result) at
once, other requests keep being answered meanwhile, and nothing changes.

The JS SDK sends a find as ``POST /classes/X`` with ``{"_method": "GET", "where": ...}``; these tests send it
the same way. "Meanwhile" is measured: a ``/health`` request started together with the hostile one must be
answered within ``HEALTH_WAIT`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from backend import operators
from backend.context import RequestContext
from backend.services.data.query import matches, parse_where
from backend.services.data.query_limits import MAX_CLAUSES, MAX_LIST_VALUES
from backend.storage.protocols import ClassSchema, FieldSpec

HEALTH_WAIT = 5.0  # generous for a loaded 2-core CI box: a stalled loop waits for the whole hostile request
EVIL = "^(a+)+$"


async def _find(client: httpx.AsyncClient, headers: dict[str, str], where: Any) -> httpx.Response:
    return await client.post("/classes/Bounded", headers=headers, json={"_method": "GET", "where": where})


async def _with_health(client: httpx.AsyncClient, request: Any) -> tuple[httpx.Response, float]:
    """Run the request and a health check together; answers the request's response and the health wait."""

    async def health() -> float:
        await asyncio.sleep(0.01)  # let the hostile request start first
        started = time.monotonic()
        response = await client.get("/health")
        assert response.status_code == 200
        return time.monotonic() - started

    response, waited = await asyncio.gather(request, health())
    return response, waited


async def _seed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    for body in ({"tags": ["x", "y"], "name": "a" * 40 + "b", "n": 1}, {"tags": ["z"], "name": "ab", "n": 2}):
        assert (await client.post("/classes/Bounded", headers=headers, json=body)).status_code == 201
    return await _all_rows(client)


async def _all_rows(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    master = {"X-Parse-Application-Id": "test-app", "X-Parse-Master-Key": "test-master-key"}
    response = await client.get("/classes/Bounded", headers=master, params={"order": "n"})
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()["results"]
    return rows


@pytest.mark.parametrize("where", [
    pytest.param({"tags": {"$all": [f"v{i}" for i in range(20_000)]}}, id="all-20000"),
    pytest.param({"n": {"$in": list(range(MAX_LIST_VALUES + 1))}}, id="in-over-limit"),
    pytest.param({"$or": [{"n": i} for i in range(MAX_CLAUSES + 1)]}, id="or-over-limit"),
    pytest.param({"n": {"$nin": [[i] for i in range(60_000)][:MAX_LIST_VALUES + 1]}}, id="nin-nested-lists"),
])
async def test_oversized_query_is_refused_at_once(
    client: httpx.AsyncClient, headers: dict[str, str], where: Any
) -> None:
    before = await _seed(client, headers)
    started = time.monotonic()
    response, waited = await _with_health(client, _find(client, headers, where))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 102
    assert time.monotonic() - started < 10.0  # unrefused, the expansion runs for minutes
    assert waited < HEALTH_WAIT
    assert await _all_rows(client) == before


async def test_deep_where_is_refused_with_a_parse_error(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await _seed(client, headers)
    where: Any = {"n": 1}
    for _ in range(100):  # 200 JSON levels: past the limit, within what every layer can re-encode
        where = {"$or": [where]}
    response = await _find(client, headers, where)
    assert response.status_code == 400 and response.json()["code"] == 102, response.text


async def test_large_lists_under_the_limit_answer_correctly(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await _seed(client, headers)
    many = [f"v{i}" for i in range(5_000)]
    cases: list[tuple[Any, set[int]]] = [
        ({"tags": {"$all": ["x", *many]}}, set()),
        ({"tags": {"$all": ["x", "y"]}}, {1}),
        ({"tags": {"$in": ["z", *many]}}, {2}),
        ({"n": {"$in": [2, *range(10, 9_000)]}}, {2}),  # over 32,767 bind parameters were a 500 on PostgreSQL
        ({"n": {"$nin": [2, *range(10, 9_000)]}}, {1}),
        ({"$or": [{"n": 1}, *({"name": f"q{i}"} for i in range(MAX_CLAUSES - 1))]}, {1}),
        ({"tags": {"$in": [["no"]] * 3_000 + ["y"]}}, {1}),  # a deep OR tree on SQLite before
    ]
    for where, expected in cases:
        response, waited = await _with_health(client, _find(client, headers, where))
        assert response.status_code == 200, (str(where)[:80], response.text[:200])
        assert {row["n"] for row in response.json()["results"]} == expected, str(where)[:80]
        assert waited < HEALTH_WAIT


async def test_catastrophic_regex_answers_at_once(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    before = await _seed(client, headers)
    started = time.monotonic()
    response, waited = await _with_health(client, _find(client, headers, {"name": {"$regex": EVIL}}))
    assert response.status_code == 200 and response.json()["results"] == []
    assert time.monotonic() - started < 10.0 and waited < HEALTH_WAIT  # backtracking: longer than the universe
    assert await _all_rows(client) == before


@pytest.mark.parametrize("pattern", [r"(a)\1", r"a(?=b)", r"(?<!a)b", r"a\Z"])
async def test_what_the_linear_engine_cannot_run_is_refused_alike(
    client: httpx.AsyncClient, headers: dict[str, str], pattern: str
) -> None:
    before = await _seed(client, headers)
    response = await _find(client, headers, {"name": {"$regex": pattern}})
    assert response.status_code == 400 and response.json()["code"] == 102, response.text
    assert await _all_rows(client) == before


def test_the_in_memory_matcher_runs_a_catastrophic_regex_in_linear_time() -> None:
    """The matcher LiveQuery and cloud code use: 100,000 characters against ^(a+)+$ in well under a second."""
    schema = ClassSchema("Bounded", {"name": FieldSpec("String")})
    tree = parse_where({"name": {"$regex": EVIL}}, schema, lambda _name: None)
    started = time.monotonic()
    assert not matches({"name": "a" * 100_000 + "b"}, tree)
    assert matches({"name": "a" * 100_000}, tree)
    assert time.monotonic() - started < 5.0  # a backtracking engine would never finish
    assert operators.regex("Ünï_1", r"^\w+$", False, False)  # Unicode \w, as PostgreSQL reads it
    assert RequestContext.system().principal.is_master


@pytest.mark.parametrize("levels", [256, 600, 1000])
async def test_tunnelled_request_nested_deeply_answers_a_parse_error(
    client: httpx.AsyncClient, headers: dict[str, str], levels: int
) -> None:
    before = await _seed(client, headers)
    nested = '{"k":' * levels + "1" + "}" * levels  # built as text: Python's own encoder stops near 1,000
    for method in ("GET", "PUT", "POST"):
        body = f'{{"_method":"{method}","where":{nested}}}'.encode()
        response = await client.post("/classes/Bounded", headers={**headers, "Content-Type": "text/plain"},
                                     content=body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] in (102, 107)
    assert await _all_rows(client) == before
