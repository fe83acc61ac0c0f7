"""Rule changes apply on every instance at once: two app instances on one database (both engines, with and
without Redis). A CLP, protected-field or schema change through A governs every request on B from the moment B
is answered (SQLite: the stamp file; PostgreSQL: a's answer waits for b's acknowledgement, see
tests/storage/test_rule_leases.py), with no TTL to wait out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}
LOCKED: dict[str, dict[str, bool]] = {
    op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")}


@pytest.fixture(params=["no-redis", "redis"])
def shared(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return settings.model_copy(update={"jobs_enabled": False, "redis_url": redis})


@asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse")))
        yield clients[0], clients[1]


async def heard(b: httpx.AsyncClient, class_name: str, check: Callable[[dict[str, Any]], bool]) -> None:
    """Instance b already knows of a's change: no waiting, no polling."""
    assert check((await b.get(f"/schemas/{class_name}", headers=M)).json()), f"b has not heard of {class_name}"


async def test_a_clp_change_on_one_instance_governs_the_next_request_on_the_other(shared: Settings) -> None:
    async with two_instances(shared) as (a, b):
        assert (await b.post("/classes/Doc", json={"n": 1}, headers=H)).status_code == 201  # b caches Doc
        assert len((await b.get("/classes/Doc", headers=H)).json()["results"]) == 1
        changed = await a.put("/schemas/Doc", json={"classLevelPermissions": LOCKED}, headers=M)
        assert changed.status_code == 200, changed.text
        await heard(b, "Doc", lambda schema: schema["classLevelPermissions"]["find"] == {})
        found = await b.get("/classes/Doc", headers=H)
        assert (found.status_code, found.json()) == (
            400, {"code": 119, "error": "Permission denied for action find on class Doc."})
        created = await b.post("/classes/Doc", json={"n": 2}, headers=H)
        assert created.json()["code"] == 119
        assert (await b.get("/classes/Doc", params={"count": "1"}, headers=M)).json()["count"] == 1  # none added
        assert (await b.get("/health", headers=H)).status_code == 200


async def test_protected_fields_set_on_one_instance_are_hidden_by_the_other_at_once(shared: Settings) -> None:
    async with two_instances(shared) as (a, b):
        made = (await a.post("/classes/Card", json={"title": "t", "secret": "s"}, headers=H)).json()
        assert (await b.get(f"/classes/Card/{made['objectId']}", headers=H)).json()["secret"] == "s"
        clp = {"protectedFields": {"*": ["secret"]}}
        assert (await a.put("/schemas/Card", json={"classLevelPermissions": clp}, headers=M)).status_code == 200
        await heard(b, "Card", lambda schema: schema["classLevelPermissions"]["protectedFields"].get("*") == ["secret"])
        shown = (await b.get(f"/classes/Card/{made['objectId']}", headers=H)).json()
        assert "secret" not in shown and shown["title"] == "t"
        assert all("secret" not in row for row in (await b.get("/classes/Card", headers=H)).json()["results"])


async def test_a_schema_change_on_one_instance_is_known_to_the_other_at_once(shared: Settings) -> None:
    async with two_instances(shared) as (a, b):
        assert (await b.post("/classes/Game", json={"level": 1}, headers=H)).status_code == 201  # level: Number
        dropped = await a.put("/schemas/Game", json={"fields": {"level": {"__op": "Delete"}}}, headers=M)
        assert dropped.status_code == 200, dropped.text
        await heard(b, "Game", lambda schema: "level" not in schema["fields"])
        again = await b.post("/classes/Game", json={"level": "boss"}, headers=H)  # a new field, now a String
        assert again.status_code == 201, again.text
        assert (await b.get(f"/classes/Game/{again.json()['objectId']}", headers=H)).json()["level"] == "boss"
        added = await a.put("/schemas/Game", json={"fields": {"score": {"type": "Number"}}}, headers=M)
        assert added.status_code == 200, added.text
        await heard(b, "Game", lambda schema: "score" in schema["fields"])
        assert (await b.get("/schemas/Game", headers=M)).json()["fields"]["score"] == {"type": "Number"}
        listed = (await b.get("/schemas", headers=M)).json()["results"]
        assert any(c["className"] == "Game" and "score" in c["fields"] for c in listed)
