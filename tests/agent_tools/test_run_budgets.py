"""Run budgets are exact across instances: two Ballast apps on one database and one Redis count every run
together (writes, calls, objects shown, an intent's exposure), over REST and MCP; Redis down refuses calls."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agent_tools.model.blocked import Blocked
from agent_tools.stores.run_budget import Caps, RedisRunBudget
from backend.app import create_app
from backend.config import Settings
from backend.services.shared.counters import REDIS_TIMEOUT
from tests.agent_tools.conftest import Gateway, tool_text
from tests.agent_tools.test_intents import SUPPORT
from tests.realtime.conftest import RedisServer
from tests.support.live import LiveServer
from tests.support.postgres import free_port

Pair = tuple[Gateway, Gateway]


async def _instances(settings: Settings, master_headers: dict[str, str], stack: AsyncExitStack) -> Pair:
    """Two apps (own caches, own processes' worth of state) on the settings' database and Redis."""
    gateways = []
    for _ in range(2):
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1/parse"))
        gateways.append(Gateway(http, master_headers, app.state.agent_tools))
    return gateways[0], gateways[1]


@pytest.fixture
async def pair(settings: Settings, redis_url: str, master_headers: dict[str, str]) -> AsyncIterator[Pair]:
    shared = settings.model_copy(update={"redis_url": redis_url, "jobs_enabled": False})
    async with AsyncExitStack() as stack:
        yield await _instances(shared, master_headers, stack)


async def _seed(gateway: Gateway, class_name: str, **fields: Any) -> str:
    answer = await gateway.http.post(f"/classes/{class_name}", json=fields, headers=gateway.admin_headers)
    assert answer.status_code == 201, answer.text
    object_id: str = answer.json()["objectId"]
    return object_id


async def _count(gateway: Gateway, class_name: str) -> int:
    answer = await gateway.http.get(f"/classes/{class_name}", params={"count": 1, "limit": 0},
                                    headers=gateway.admin_headers)
    return int(answer.json()["count"])


def _run(name: str) -> dict[str, str]:
    """A run id of this test alone: one Redis serves every test (both engines at once)."""
    return {"X-Ballast-Run-Id": f"{name}-{uuid.uuid4().hex[:8]}"}


def _create(i: int) -> dict[str, Any]:
    return {"className": "Burst", "fields": {"i": i}}


async def test_concurrent_writes_split_across_two_instances_commit_exactly_the_budget(pair: Pair) -> None:
    a, b = pair
    await _seed(a, "Burst", i=-1)
    await a.admin("PUT", "/policy", json={"runWrites": 5})
    _, token = await a.agent("burst", grants=["*"])
    run = _run("r-split")
    answers = await asyncio.gather(*((a, b)[i % 2].call(token, "write", "create_object", _create(i), run)
                                     for i in range(12)))
    assert sorted(answer.status_code for answer in answers) == [200] * 5 + [403] * 7, [a.text for a in answers]
    assert {answer.json()["rule"] for answer in answers if answer.status_code == 403} == {"budget.writes"}
    assert await _count(b, "Burst") == 1 + 5
    assert len(await b.records(runId=run["X-Ballast-Run-Id"])) == 12
    assert (await a.verify())["ok"] is True


async def test_retries_failures_and_approvals_spend_no_write_budget_on_either_instance(pair: Pair) -> None:
    a, b = pair
    order = await _seed(a, "Order", n=1)
    await _seed(a, "Burst", i=-1)
    await a.admin("PUT", "/policy", json={"runWrites": 2})
    _, token = await a.agent("careful", grants=["*"])
    run = _run("r-careful")
    first = await a.call(token, "write", "create_object", _create(1), run | {"Idempotency-Key": "k-1"})
    assert first.status_code == 200, first.text
    retried = await b.call(token, "write", "create_object", _create(1), run | {"Idempotency-Key": "k-1"})
    assert retried.status_code == 200 and retried.json()["replayed"] is True  # the same answer, no new place
    failed = await a.call(token, "write", "update_object",
                          {"className": "Order", "objectId": "nothere123", "fields": {"n": 2}}, run)
    assert failed.status_code == 404
    held = await b.call(token, "write", "delete_object", {"className": "Order", "objectId": order}, run)
    assert held.status_code == 202  # waits for a human: no write yet, no place taken
    second = await b.call(token, "write", "create_object", _create(2), run)
    assert second.status_code == 200, second.text
    over = await a.call(token, "write", "create_object", _create(3), run)
    assert over.status_code == 403 and over.json()["rule"] == "budget.writes"
    late = await a.call(token, "write", "create_object", _create(1), run | {"Idempotency-Key": "k-1"})
    assert late.status_code == 200 and late.json()["replayed"] is True  # a full budget still answers a retry
    assert late.json()["result"] == first.json()["result"]
    assert await _count(a, "Burst") == 1 + 2
    outcomes = [record["outcome"] for record in await b.records(runId=run["X-Ballast-Run-Id"])]
    assert outcomes == ["ok", "replayed", "error", "pending", "ok", "blocked", "replayed"]


async def test_two_agents_racing_to_a_new_run_id_never_both_own_it(pair: Pair) -> None:
    a, b = pair
    await _seed(a, "Order", n=1)
    first_id, first = await a.agent("first", grants=["read:*"])
    second_id, second = await b.agent("second", grants=["read:*"])
    run = _run("r-contested")
    calls = [(a, b)[n % 2].call((first, second)[n // 2 % 2], "read", "count_objects", {"className": "Order"}, run)
             for n in range(12)]
    answers = await asyncio.gather(*calls)
    owners = {record["agentId"] for record in await a.records(runId=run["X-Ballast-Run-Id"])}
    assert len(owners) == 1 and owners <= {first_id, second_id}  # one owner; the loser's refusals are elsewhere
    by_status = sorted(answer.status_code for answer in answers)
    assert by_status == [200] * 6 + [403] * 6, [answer.text for answer in answers]
    assert {answer.json()["rule"] for answer in answers if answer.status_code == 403} == {"run.owner"}


async def test_call_and_object_budgets_are_counted_by_both_instances(pair: Pair) -> None:
    a, b = pair
    objects = [await _seed(a, "Order", n=n) for n in range(4)]
    await a.admin("PUT", "/policy", json={"runCalls": 4, "runObjectsRead": 3})
    _, token = await a.agent("reader", grants=["read:*"])
    calls = _run("r-calls")
    answers = [await (a, b)[n % 2].call(token, "read", "count_objects", {"className": "Order"}, calls)
               for n in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [403]
    assert answers[-1].json()["rule"] == "budget.calls"
    shown = _run("r-shown")
    reads = [await (a, b)[n % 2].call(token, "read", "get_object", {"className": "Order", "objectId": object_id},
                                      shown) for n, object_id in enumerate(objects)]
    assert [answer.status_code for answer in reads] == [200, 200, 200, 403]
    assert reads[-1].json()["rule"] == "budget.objects" and "objectId" not in reads[-1].text


async def test_an_intents_exposure_cap_stops_the_run_on_every_instance(pair: Pair) -> None:
    a, b = pair
    faqs = [await _seed(a, "Faq", subject=f"q{n}", body=f"answer {n}") for n in range(6)]
    assert (await a.admin("POST", "/intents", json=SUPPORT)).status_code == 201  # maxObjects 4
    await a.agent("support-bot", grants=["*"])
    minted = await a.admin("POST", "/intents/support-answer/runs",
                           json={"agent": "support-bot", "params": {"customer": "c1"}})
    run = minted.json()["token"]
    reads = [await (a, b)[n % 2].call(run, "read", "get_object", {"className": "Faq", "objectId": faq})
             for n, faq in enumerate(faqs[:5])]
    assert [answer.status_code for answer in reads] == [200] * 4 + [403]
    assert reads[-1].json()["rule"] == "intent.budget" and "answer 4" not in reads[-1].text
    again = await a.call(run, "read", "get_object", {"className": "Faq", "objectId": faqs[0]})
    assert again.status_code == 403 and again.json()["rule"] == "intent.budget"  # stopped here too


@pytest.fixture
def two_servers(settings: Settings, redis_url: str) -> Iterator[list[LiveServer]]:
    """Two live servers on one database and one Redis (for the MCP client, which speaks HTTP)."""
    started: list[LiveServer] = []
    with ExitStack() as stack:
        for _ in range(2):
            port = free_port()
            served = settings.model_copy(update={"redis_url": redis_url, "jobs_enabled": False, "port": port,
                                                 "server_url": f"http://127.0.0.1:{port}/parse"})
            started.append(stack.enter_context(LiveServer(create_app(served), port)))
        yield started


async def test_rest_and_mcp_calls_on_two_servers_share_one_run_budget(
        two_servers: list[LiveServer], master_headers: dict[str, str]) -> None:
    rest_site, mcp_site = (server.url for server in two_servers)
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(f"{rest_site}/classes/Burst", json={"i": -1}, headers=master_headers)
        await http.put(f"{rest_site.removesuffix('/parse')}/agent/v1/admin/policy", json={"runWrites": 3},
                       headers=master_headers)
        made = await http.post(f"{rest_site.removesuffix('/parse')}/agent/v1/admin/agents",
                               json={"name": "twofaced", "grants": ["*"]}, headers=master_headers)
        token, run = made.json()["token"], _run("r-faces")
        rest = [http.post(f"{rest_site.removesuffix('/parse')}/agent/v1/write/create_object", json=_create(i),
                          headers={"Authorization": f"Bearer {token}"} | run) for i in range(4)]
        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"} | run, timeout=30) as client,
                    streamable_http_client(f"{mcp_site.removesuffix('/parse')}/mcp", http_client=client)
                    as (read, write), ClientSession(read, write) as session):
            await session.initialize()
            over_mcp = [session.call_tool("create_object", _create(10 + i)) for i in range(4)]
            rest_answers, mcp_results = await asyncio.gather(asyncio.gather(*rest), asyncio.gather(*over_mcp))
        rest_ok = [answer.status_code for answer in rest_answers].count(200)
        mcp_ok = sum(not result.is_error for result in mcp_results)
        assert rest_ok + mcp_ok == 3, (rest_answers, mcp_results)
        refusals = [tool_text(result) for result in mcp_results if result.is_error]
        assert all("budget.writes" in text for text in refusals), refusals
        stored = await http.get(f"{rest_site}/classes/Burst", params={"count": 1, "limit": 0},
                                headers=master_headers)
        assert stored.json()["count"] == 1 + 3


@pytest.fixture
async def own_redis(settings: Settings, master_headers: dict[str, str]
                    ) -> AsyncIterator[tuple[RedisServer, Gateway, Gateway]]:
    """A Redis of this test alone (it will be stopped or frozen) and two instances on it."""
    redis = RedisServer()
    try:
        shared = settings.model_copy(update={"redis_url": redis.url, "jobs_enabled": False})
        async with AsyncExitStack() as stack:
            a, b = await _instances(shared, master_headers, stack)
            yield redis, a, b
    finally:
        redis.stop()


async def test_with_redis_down_calls_are_refused_and_nothing_changes(
        own_redis: tuple[RedisServer, Gateway, Gateway], master_headers: dict[str, str]) -> None:
    redis, a, b = own_redis
    order = await _seed(a, "Order", n=1)
    _, token = await a.agent("stranded", grants=["*"])
    ref = {"className": "Order", "objectId": order}
    assert (await a.call(token, "write", "update_object", ref | {"fields": {"n": 2}})).status_code == 200
    redis.stop()
    for instance, kind, tool, body in ((a, "write", "update_object", ref | {"fields": {"n": 3}}),
                                       (b, "read", "get_object", ref)):
        refused = await instance.call(token, kind, tool, body)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == 1 and refused.json()["rule"].endswith(".unavailable")
        assert "unreachable" in refused.json()["error"]
    stored = await a.http.get(f"/classes/Order/{order}", headers=master_headers)
    assert stored.json()["n"] == 2
    outcomes = [(r["outcome"], r["rule"]) for r in await a.records()]
    assert outcomes[-2:] == [("blocked", "rate.unavailable")] * 2
    assert (await b.verify())["ok"] is True


async def test_with_redis_hung_calls_are_refused_within_seconds(
        own_redis: tuple[RedisServer, Gateway, Gateway]) -> None:
    redis, a, _ = own_redis
    _, token = await a.agent("waiting", grants=["*"])
    assert (await a.call(token, "read", "list_classes")).status_code == 200
    os.kill(redis.process.pid, signal.SIGSTOP)  # up, but answering nothing
    try:
        started = time.monotonic()
        refused = await a.call(token, "read", "list_classes")
        waited = time.monotonic() - started
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    assert refused.status_code == 503 and refused.json()["rule"] == "rate.unavailable", refused.text
    assert waited < 4 * REDIS_TIMEOUT


async def test_the_redis_budget_store_fails_closed() -> None:
    store = RedisRunBudget(f"redis://127.0.0.1:{free_port()}/0", "test")  # nothing listens there
    try:
        with pytest.raises(Blocked) as refused:
            await store.admit("agent/run", Caps(10, writes=10))
        assert (refused.value.rule, refused.value.status, refused.value.code) == ("budget.unavailable", 503, 1)
        with pytest.raises(Blocked):
            await store.see("agent/run", [("Order", "x")])
        await store.release("agent/run")  # a lost place is logged, never an error (nor an extra write)
    finally:
        await store.close()
