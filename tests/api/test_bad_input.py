"""Bad input, table-driven, on both engines: the right Parse error, never a 500, and the data unchanged after.

Every scenario runs against a class holding one known object; after the bad
request the class is read back and must be exactly as before (no new object,
no new field, no dropped table).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID

SQL = "'; DROP TABLE x; --"
SQL_CLASS = quote(SQL, safe="")
BASE = {"title": "kept", "n": 1}


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    code: int
    status: int = 400
    body: Any = None  # JSON-encoded unless raw is given
    raw: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    master: bool = False


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


def _where(where: Any) -> dict[str, str]:
    return {"where": json.dumps(where)}


SCENARIOS = [
    Scenario("malformed JSON", "POST", "/classes/Target", 107, raw=b'{"title": "x",'),
    Scenario("truncated unicode", "POST", "/classes/Target", 107, raw=b'{"title": "\xff\xfe"}'),
    Scenario("array body", "POST", "/classes/Target", 107, body=[1, 2]),
    Scenario("string body", "PUT", "/classes/Target/{id}", 107, body="title"),
    Scenario("null body in batch", "POST", "/batch", 107, body=None, raw=b"null"),
    Scenario("number body for schema", "POST", "/schemas/Target", 107, body=5, master=True),
    Scenario("unknown field operator", "GET", "/classes/Target", 102, params=_where({"n": {"$foo": 1}})),
    Scenario("unknown top-level operator", "GET", "/classes/Target", 105, params=_where({"$where": "1"})),
    Scenario("where not an object", "GET", "/classes/Target", 102, params=_where([1])),
    Scenario("where not JSON", "GET", "/classes/Target", 107, params={"where": "{nope"}),
    Scenario("unknown update op", "PUT", "/classes/Target/{id}", 107, body={"n": {"__op": "Explode"}}),
    Scenario("class name with a dash", "POST", "/classes/bad-name", 103, body={"a": 1}),
    Scenario("class name starting with a digit", "POST", "/classes/1abc", 103, body={"a": 1}),
    Scenario("SQL as class name", "POST", f"/classes/{SQL_CLASS}", 103, body={"a": 1}),
    Scenario("SQL as class name in a query", "GET", f"/classes/{SQL_CLASS}", 103),
    Scenario("SQL as class name in a schema", "POST", f"/schemas/{SQL_CLASS}", 103, body={}, master=True),
    Scenario("SQL as field name", "POST", "/classes/Target", 105, body={SQL: 1}),
    Scenario("SQL as field name in an update", "PUT", "/classes/Target/{id}", 105, body={SQL: 1}),
    Scenario("SQL as where key", "GET", "/classes/Target", 105, params=_where({SQL: 1})),
    Scenario("SQL as order key", "GET", "/classes/Target", 105, params={"order": SQL}),
    Scenario("SQL as keys", "GET", "/classes/Target", 105, params={"keys": SQL}),
    Scenario("SQL as schema field", "PUT", "/schemas/Target", 105, body={"fields": {SQL: {"type": "String"}}},
             master=True),
    Scenario("dollar field name", "POST", "/classes/Target", 105, body={"$set": 1}),
    Scenario("dotted field name", "POST", "/classes/Target", 105, body={"a.b": 1}),
    Scenario("wrong type", "PUT", "/classes/Target/{id}", 111, body={"n": "one"}),
    Scenario("wrong type on create", "POST", "/classes/Target", 111, body={"title": 5}),
    Scenario("pointer without id", "POST", "/classes/Target", 106, body={"p": {"__type": "Pointer", "className": "X"}}),
    Scenario("date without iso", "POST", "/classes/Target", 111, body={"d": {"__type": "Date"}}),
    Scenario("geo point out of range", "POST", "/classes/Target", 162,
             body={"g": {"__type": "GeoPoint", "latitude": 100, "longitude": 0}}),
    Scenario("deep nesting", "POST", "/classes/Target", 107, body={"deep": _deep(200)}),
    Scenario("very deep nesting", "POST", "/classes/Target", 107, raw=b'{"a":' * 5000 + b"1" + b"}" * 5000),
    Scenario("NUL in a field name", "POST", "/classes/Target", 105, body={"ti\u0000tle": "x"}),
    Scenario("NUL in a value", "POST", "/classes/Target", 162, body={"title": "a\u0000b"}),
    Scenario("NUL in an update", "PUT", "/classes/Target/{id}", 162, body={"title": "a\u0000b"}),
    Scenario("NUL in a nested value", "POST", "/classes/Target", 162, body={"meta": {"k": "a\u0000b"}}),
    Scenario("NUL in a where value", "GET", "/classes/Target", 162, params=_where({"title": "a\u0000b"})),
    Scenario("negative limit", "GET", "/classes/Target", 102, params={"limit": "-5"}),
    Scenario("text limit", "GET", "/classes/Target", 102, params={"limit": '"ten"'}),
    Scenario("objectId on create", "POST", "/classes/Target", 105, body={"objectId": "abcdefghij"}),
    Scenario("bad ACL", "PUT", "/classes/Target/{id}", 123, body={"ACL": {"*": {"read": "yes"}}}),
    Scenario("batch of non-objects", "POST", "/batch", 107, body={"requests": [1]}),
    Scenario("aggregate bad stage", "GET", "/aggregate/Target", 102, params={"pipeline": '[{"$out": "x"}]'},
             master=True),
]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/classes/Target", json=BASE, headers=headers)
    assert response.status_code == 201
    return str(response.json()["objectId"])


async def _snapshot(client: httpx.AsyncClient, master_headers: dict[str, str]) -> tuple[Any, Any, Any]:
    objects = (await client.get("/classes/Target", headers=master_headers)).json()
    schema = (await client.get("/schemas/Target", headers=master_headers)).json()
    classes = sorted(entry["className"] for entry in (await client.get("/schemas", headers=master_headers)).json()[
        "results"])
    return objects, schema, classes


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
async def test_bad_input_gets_a_parse_error_and_changes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str], seeded: str,
    scenario: Scenario,
) -> None:
    before = await _snapshot(client, master_headers)
    content = scenario.raw if scenario.raw is not None else json.dumps(scenario.body).encode()
    response = await client.request(
        scenario.method, scenario.path.replace("{id}", seeded), content=content, params=scenario.params,
        headers={**(master_headers if scenario.master else headers), "content-type": "application/json"},
    )
    assert response.status_code == scenario.status, response.text
    assert response.json()["code"] == scenario.code, response.text
    assert isinstance(response.json()["error"], str)
    assert await _snapshot(client, master_headers) == before


@pytest.fixture
async def small_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose body limit is 1 KB, so an over-limit body is cheap to send."""
    app: FastAPI = create_app(settings.model_copy(update={"max_upload_size": 1024}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


async def test_a_body_over_the_limit_is_413_116_and_stores_nothing(small_client: httpx.AsyncClient) -> None:
    headers = {"X-Parse-Application-Id": APP_ID}
    big = json.dumps({"blob": "x" * 4096})
    for method, path in (("POST", "/classes/Big"), ("POST", "/batch"), ("PUT", "/classes/Big/abcdefghij")):
        response = await small_client.request(method, path, content=big, headers=headers)
        assert response.status_code == 413
        assert response.json()["code"] == 116
    assert (await small_client.get("/classes/Big", headers=headers)).json() == {"results": []}


async def test_sql_looking_values_are_stored_and_matched_verbatim(client: httpx.AsyncClient,
                                                                 headers: dict[str, str]) -> None:
    created = (await client.post("/classes/Quoted", json={"text": SQL, "tags": [SQL]}, headers=headers)).json()
    found = (await client.get("/classes/Quoted", params=_where({"text": SQL}), headers=headers)).json()["results"]
    assert [(row["objectId"], row["text"], row["tags"]) for row in found] == [(created["objectId"], SQL, [SQL])]
    regex = (await client.get("/classes/Quoted", params=_where({"text": {"$regex": "DROP"}}), headers=headers)).json()
    assert len(regex["results"]) == 1
    none = (await client.get("/classes/Quoted", params=_where({"text": SQL + "x"}), headers=headers)).json()
    assert none == {"results": []}
