"""Numbers as Parse clients know them: JSON numbers are doubles to every Parse client, so an integer beyond
64 bits, anywhere in a value, is stored and returned as a double; never a row, config or schema that later
answers 500 (on PostgreSQL it did, also after a restart). Both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings

HUGE = 10**30  # sent as the digits: 1000000000000000000000000000000
U64 = 2**64 - 1  # fits orjson's unsigned 64 bits, not SQLite's or PostgreSQL's bigint
NEG = -(2**63) - 1
MASTER = {"X-Parse-Application-Id": "test-app", "X-Parse-Master-Key": "test-master-key"}


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


def _raw(body: str) -> dict[str, Any]:
    return {"content": body.encode(), "headers": {**MASTER, "Content-Type": "application/json"}}


def _is_double(value: Any, expected: float) -> bool:
    return isinstance(value, float) and value == pytest.approx(expected)


@pytest.mark.parametrize("number", [HUGE, U64, NEG])
async def test_big_integers_are_doubles_everywhere_also_after_restart(settings: Settings, number: int) -> None:
    body = f'{{"o":{{"k":{number},"list":[1,{number}]}},"n":{number},"a":[{{"deep":[{number}]}}]}}'
    async with _serving(settings) as client:
        created = await client.post("/classes/Big", **_raw(body))
        assert created.status_code == 201, created.text
        object_id = created.json()["objectId"]
        config = await client.put("/config", **_raw(f'{{"params":{{"big":{number},"nested":{{"x":[{number}]}}}}}}'))
        assert config.status_code == 200, config.text
        schema = await client.post("/schemas/BigDefault", **_raw(
            f'{{"className":"BigDefault","fields":{{"d":{{"type":"Number","defaultValue":{number}}}}}}}'))
        assert schema.status_code == 200, schema.text
    async with _serving(settings) as client:  # a restart: nothing is served from memory
        got = await client.get(f"/classes/Big/{object_id}", headers=MASTER)
        assert got.status_code == 200, got.text
        found = await client.get("/classes/Big", headers=MASTER)
        assert found.status_code == 200, found.text
        for obj in (got.json(), found.json()["results"][0]):
            assert _is_double(obj["o"]["k"], number) and _is_double(obj["o"]["list"][1], number)
            assert _is_double(obj["n"], number) and _is_double(obj["a"][0]["deep"][0], number)
        params = await client.get("/config", headers=MASTER)
        assert params.status_code == 200, params.text
        assert _is_double(params.json()["params"]["big"], number)
        assert _is_double(params.json()["params"]["nested"]["x"][0], number)
        schemas = await client.get("/schemas", headers=MASTER)
        assert schemas.status_code == 200, schemas.text
        default = await client.get("/schemas/BigDefault", headers=MASTER)
        assert _is_double(default.json()["fields"]["d"]["defaultValue"], number)
        made = await client.post("/classes/BigDefault", headers=MASTER, json={})
        assert made.status_code == 201, made.text
        query = await client.get("/classes/Big", headers=MASTER, params={"where": f'{{"n":{{"$gte":{number}}}}}'})
        assert query.status_code == 200 and len(query.json()["results"]) == 1, query.text
        skipped = await client.get("/classes/Big", headers=MASTER, params={"skip": str(HUGE)})
        assert skipped.status_code in (200, 400), skipped.text
        assert skipped.status_code == 200 or skipped.json()["code"] == 102



NUL_BODIES = [
    ("POST", "/schemas/NulDefault", '{"fields":{"s":{"type":"String","defaultValue":"a\\u0000b"}}}'),
    ("POST", "/schemas/NulObject", '{"fields":{"o":{"type":"Object","defaultValue":{"k":"a\\u0000"}}}}'),
    ("POST", "/schemas/NulCLP", '{"classLevelPermissions":{"find":{"a\\u0000":true}}}'),
    ("PUT", "/config", '{"params":{"a\\u0000":1}}'),
    ("PUT", "/config", '{"params":{"p":["x",{"y":"\\u0000"}]}}'),
    ("POST", "/classes/Nul", '{"o":{"deep":["\\u0000"]}}'),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
async def test_a_nul_anywhere_in_a_body_is_a_parse_error(
    settings: Settings, method: str, path: str, body: str
) -> None:
    """PostgreSQL cannot store a NUL in text or jsonb: it is refused at the edge, on both engines alike."""
    async with _serving(settings) as client:
        before = [(await client.get(p, headers=MASTER)).json() for p in ("/schemas", "/config")]
        response = await client.request(method, path, **_raw(body))
        assert response.status_code == 400, response.text
        assert response.json()["code"] in (105, 162), response.text
        after = [(await client.get(p, headers=MASTER)).json() for p in ("/schemas", "/config")]
        assert after == before
