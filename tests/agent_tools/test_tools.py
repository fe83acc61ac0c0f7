"""Built-in tools and policy knobs: read-only switch, cloud functions, jobs, budgets, limits across instances."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from backend.app import create_app
from backend.cloud import FunctionSpec
from backend.config import Settings
from tests.agent_tools.conftest import AGENT, Gateway, Seed


async def test_the_global_read_only_switch(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("clerk", grants=["*"])
    switched = await gateway.admin("PUT", "/policy", json={"readOnly": True})
    assert switched.json()["version"] == 1 and switched.json()["config"]["readOnly"] is True
    body = {"className": "Order", "objectId": order["objectId"], "fields": {"status": "x"}}
    refused = await gateway.call(token, "write", "update_object", body)
    assert refused.status_code == 403 and refused.json()["rule"] == "global.read_only"
    assert (await gateway.call(token, "read", "count_objects", {"className": "Order"})).json()["result"] == {
        "count": 1}
    record = (await gateway.records(decision="deny"))[-1]
    assert (record["rule"], record["policyVersion"]) == ("global.read_only", 1)
    await gateway.admin("PUT", "/policy", json={"readOnly": False})
    assert (await gateway.call(token, "write", "update_object", body)).status_code == 200
    assert (await gateway.admin("PUT", "/policy", json={"readOnly": "maybe"})).status_code == 400


async def test_only_agent_callable_cloud_functions_run(app: FastAPI, gateway: Gateway) -> None:
    async def hello(req: Any) -> str:
        return f"hello {req.params.get('name')}"

    functions = app.state.services.cloud.registry.functions
    functions["hello"] = FunctionSpec("hello", hello, agent_callable=True)
    functions["secret"] = FunctionSpec("secret", hello)
    functions["risky"] = FunctionSpec("risky", hello, agent_callable=True, risk="high")
    _, token = await gateway.agent("caller", grants=["run_cloud_function"])
    ran = await gateway.call(token, "write", "run_cloud_function", {"name": "hello", "params": {"name": "ann"}})
    assert ran.status_code == 200 and ran.json()["result"]["result"] == "hello ann", ran.text
    refused = await gateway.call(token, "write", "run_cloud_function", {"name": "secret"})
    assert refused.status_code == 400 and "not agent-callable" in refused.json()["error"]
    held = await gateway.call(token, "write", "run_cloud_function", {"name": "risky"})
    assert held.status_code == 202 and held.json()["approval"]["preview"]["heldBack"] == [
        {"kind": "cloudFunction", "name": "risky"}]
    outcomes = [(r["tool"], r["outcome"]) for r in await gateway.records()]
    assert outcomes[-3:] == [("run_cloud_function", "ok"), ("run_cloud_function", "error"),
                             ("run_cloud_function", "pending")]


async def test_describe_list_and_jobs(gateway: Gateway, seed: Seed) -> None:
    await seed("Order", status="new")
    _, token = await gateway.agent("looker")
    classes = await gateway.call(token, "read", "list_classes")
    names = [c["className"] for c in classes.json()["result"]["classes"]]
    assert "Order" in names and not {"_Agent", "_ToolCall", "_Approval"} & set(names)
    described = await gateway.call(token, "read", "describe_class", {"className": "Order"})
    assert described.json()["result"]["fields"]["status"] == {"type": "String"}
    hidden = await gateway.call(token, "read", "describe_class", {"className": "_ToolCall"})
    assert hidden.status_code == 404
    jobs = await gateway.call(token, "read", "list_jobs")
    assert jobs.status_code == 200 and isinstance(jobs.json()["result"]["jobs"], list)


async def test_small_bulk_updates_run_at_once_and_budgets_stop_a_run(gateway: Gateway, seed: Seed) -> None:
    for n in range(3):
        await seed("Order", status="open", n=n)
    _, token = await gateway.agent("worker", grants=["*"])
    bulk = await gateway.call(token, "write", "bulk_update", {"className": "Order", "where": {"status": "open"},
                                                              "fields": {"status": "done"}})
    assert bulk.status_code == 200 and bulk.json()["result"]["updated"] == 3
    assert len((await gateway.last_record())["changed"]) == 3
    await gateway.admin("PUT", "/policy", json={"runCalls": 2})
    run = {"X-Ballast-Run-Id": "short"}
    statuses = [(await gateway.call(token, "read", "list_classes", headers=run)).status_code for _ in range(3)]
    assert statuses == [200, 200, 403]
    assert (await gateway.last_record())["rule"] == "budget.calls"


async def test_rotation_revokes_the_old_token(gateway: Gateway) -> None:
    agent_id, old = await gateway.agent("rotor")
    rotated = await gateway.admin("POST", f"/agents/{agent_id}/tokens", json={"revokeOthers": True})
    new = rotated.json()["token"]
    assert (await gateway.call(old, "read", "list_classes")).json()["rule"] == "token.revoked"
    assert (await gateway.call(new, "read", "list_classes")).status_code == 200
    shown = await gateway.admin("GET", f"/agents/{agent_id}")
    assert len(shown.json()["tokens"]) == 2 and all("hash" not in t for t in shown.json()["tokens"])


async def test_rate_limits_are_shared_between_instances_through_redis(
        settings: Settings, redis_url: str, master_headers: dict[str, str]) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url, "jobs_enabled": False})
    first, second = create_app(shared), create_app(shared)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://127.0.0.1/parse")
                   for a in (first, second)]
        made = await clients[0].post(f"{AGENT}/admin/agents", json={"name": "twin"}, headers=master_headers)
        token = made.json()["token"]
        await clients[0].put(f"{AGENT}/admin/policy", json={"agentRate": "3/minute"}, headers=master_headers)
        statuses = []
        for n in range(4):
            answer = await clients[n % 2].post(f"{AGENT}/read/list_classes", json={},
                                               headers={"Authorization": f"Bearer {token}"})
            statuses.append(answer.status_code)
        verified = await clients[1].post(f"{AGENT}/admin/audit/verify", headers=master_headers)
        for client in clients:
            await client.aclose()
    assert statuses == [200, 200, 200, 429]  # each instance saw two calls; Redis counted four
    assert verified.json() == {"ok": True, "records": 4, "problems": []}  # both instances chained one trail
