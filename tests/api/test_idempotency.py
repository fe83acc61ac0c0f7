"""X-Parse-Request-Id replays the first answer of a write instead of running it again (both engines)."""

from __future__ import annotations

import asyncio
import json

import httpx

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID


async def _count(client: httpx.AsyncClient, headers: dict[str, str], cls: str) -> int:
    response = await client.get(f"/classes/{cls}", params={"count": 1, "limit": 0}, headers=headers)
    return int(response.json()["count"])


async def test_a_repeated_create_answers_the_same_object_and_creates_one(client: httpx.AsyncClient,
                                                                         headers: dict[str, str]) -> None:
    once = {**headers, "X-Parse-Request-Id": "req-create-1"}
    first = await client.post("/classes/Order", json={"total": 5}, headers=once)
    second = await client.post("/classes/Order", json={"total": 5}, headers=once)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["x-parse-idempotent-replay"] == "true"
    assert await _count(client, headers, "Order") == 1
    other = await client.post("/classes/Order", json={"total": 5}, headers={**headers, "X-Parse-Request-Id": "req-2"})
    assert other.json()["objectId"] != first.json()["objectId"]


async def test_a_repeated_increment_is_applied_once(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = (await client.post("/classes/Counter", json={"n": 0}, headers=headers)).json()
    path = f"/classes/Counter/{created['objectId']}"
    once = {**headers, "X-Parse-Request-Id": "inc-1"}
    answers = [await client.put(path, json={"n": {"__op": "Increment", "amount": 1}}, headers=once) for _ in range(3)]
    assert [answer.json()["n"] for answer in answers] == [1, 1, 1]
    assert (await client.get(path, headers=headers)).json()["n"] == 1


async def test_concurrent_repeats_run_the_write_once(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    once = {**headers, "X-Parse-Request-Id": "burst-1"}
    answers = await asyncio.gather(*(client.post("/classes/Burst", json={"x": 1}, headers=once) for _ in range(5)))
    assert len({answer.json()["objectId"] for answer in answers}) == 1
    assert await _count(client, headers, "Burst") == 1


async def test_an_error_answer_is_replayed_too(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await client.post("/classes/Typed", json={"v": 1}, headers=headers)
    once = {**headers, "X-Parse-Request-Id": "bad-1"}
    first = await client.post("/classes/Typed", json={"v": "text"}, headers=once)
    second = await client.post("/classes/Typed", json={"v": "text"}, headers=once)
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json() and first.json()["code"] == 111


async def test_another_caller_reusing_the_id_is_not_answered_from_the_first(client: httpx.AsyncClient,
                                                                            headers: dict[str, str],
                                                                            master_headers: dict[str, str]) -> None:
    first = await client.post("/classes/Shared", json={"who": "anon"}, headers={**headers, "X-Parse-Request-Id": "r"})
    second = await client.post("/classes/Shared", json={"who": "master"},
                               headers={**master_headers, "X-Parse-Request-Id": "r"})
    assert first.json()["objectId"] != second.json()["objectId"]


async def test_tunnelled_queries_are_never_replayed_and_tunnelled_writes_are(client: httpx.AsyncClient,
                                                                            headers: dict[str, str]) -> None:
    tunnel = {"content-type": "text/plain", "X-Parse-Request-Id": "sdk-1"}
    query = json.dumps({"_method": "GET", "_ApplicationId": APP_ID})
    assert (await client.post("/classes/Sdk", content=query, headers=tunnel)).json() == {"results": []}
    write = json.dumps({"_ApplicationId": APP_ID, "k": 1})
    made = [(await client.post("/classes/Sdk", content=write, headers={**tunnel, "X-Parse-Request-Id": "w"})).json()
            for _ in range(2)]
    assert made[0] == made[1]
    found = (await client.post("/classes/Sdk", content=query, headers=tunnel)).json()["results"]
    assert [row["objectId"] for row in found] == [made[0]["objectId"]]


async def test_batch_and_delete_replay(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    batch = {"requests": [{"method": "POST", "path": "/parse/classes/Bat", "body": {"i": i}} for i in range(3)]}
    once = {**headers, "X-Parse-Request-Id": "batch-1"}
    first = (await client.post("/batch", json=batch, headers=once)).json()
    assert (await client.post("/batch", json=batch, headers=once)).json() == first
    assert await _count(client, headers, "Bat") == 3
    target = f"/classes/Bat/{first[0]['success']['objectId']}"
    gone = {**headers, "X-Parse-Request-Id": "del-1"}
    assert [(await client.delete(target, headers=gone)).status_code for _ in range(2)] == [200, 200]


async def test_a_zero_ttl_turns_replay_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"idempotency_ttl": 0}))
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Request-Id": "same"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as client:
            ids = {(await client.post("/classes/Off", json={}, headers=headers)).json()["objectId"] for _ in range(2)}
    assert len(ids) == 2


async def test_the_replay_key_names_the_same_caller_the_auth_layer_does(client: httpx.AsyncClient,
                                                                        headers: dict[str, str]) -> None:
    """Auth reads the first value of a repeated header; the replay key must too, or a request authenticated
    as B (its first session token) is answered with A's stored answer (the last token is A's)."""
    tokens = [(await client.post("/users", json={"username": name, "password": "pw"}, headers=headers)).json()
              ["sessionToken"] for name in ("ida", "idb")]
    once = {**headers, "X-Parse-Request-Id": "twice-named"}
    first = await client.post("/classes/Mine", json={"n": 1}, headers={**once, "X-Parse-Session-Token": tokens[0]})
    repeated = [*once.items(), ("X-Parse-Session-Token", tokens[1]), ("X-Parse-Session-Token", tokens[0])]
    second = await client.post("/classes/Mine", json={"n": 1}, headers=repeated)
    assert second.status_code == 201 and "x-parse-idempotent-replay" not in second.headers
    assert second.json()["objectId"] != first.json()["objectId"]
