"""An agent trying what it must not: each attempt is blocked AND leaves its audit record."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from agent_tools.model.registry import Tool
from agent_tools.model.tool_context import ToolContext
from agent_tools.stores.classes import AGENT
from backend import wire
from tests.agent_tools.conftest import Gateway, Seed


async def _get(gateway: Gateway, class_name: str, object_id: str) -> dict[str, Any] | None:
    answer = await gateway.http.get(f"/classes/{class_name}/{object_id}", headers=gateway.admin_headers)
    return answer.json() if answer.status_code == 200 else None


async def _count(gateway: Gateway, class_name: str) -> int:
    answer = await gateway.http.get(f"/classes/{class_name}", params={"count": 1, "limit": 0},
                                    headers=gateway.admin_headers)
    return int(answer.json()["count"])


async def test_write_tool_with_a_read_grant_is_denied(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    agent_id, token = await gateway.agent("reader", grants=["read:*"])
    answer = await gateway.call(token, "write", "update_object",
                                {"className": "Order", "objectId": order["objectId"], "fields": {"status": "x"}})
    assert answer.status_code == 403 and answer.json()["rule"] == "grant.missing"
    kept = await _get(gateway, "Order", order["objectId"])
    assert kept is not None and kept["status"] == "new"
    record = await gateway.last_record()
    assert (record["agentId"], record["decision"], record["rule"], record["outcome"]) == (
        agent_id, "deny", "grant.missing", "blocked")


async def test_write_tool_on_the_read_router_is_unknown(gateway: Gateway) -> None:
    _, token = await gateway.agent("sneaky", grants=["*"])
    answer = await gateway.call(token, "read", "delete_object", {"className": "Order", "objectId": "x"})
    assert answer.status_code == 404 and answer.json()["rule"] == "tool.unknown"
    assert (await gateway.last_record())["rule"] == "tool.unknown"


async def test_objects_hidden_by_acl_stay_hidden(gateway: Gateway, seed: Seed) -> None:
    secret = await seed("Ticket", subject="secret", ACL={"role:manager": {"read": True}})
    shared = await seed("Ticket", subject="shared", ACL={"role:support": {"read": True}})
    _, token = await gateway.agent("helper", roles=["support"])
    hidden = await gateway.call(token, "read", "get_object", {"className": "Ticket", "objectId": secret["objectId"]})
    assert hidden.status_code == 404 and hidden.json()["code"] == 101
    record = await gateway.last_record()
    assert record["outcome"] == "error" and record["code"] == 101 and "context" not in record
    listed = await gateway.call(token, "read", "query_objects", {"className": "Ticket"})
    assert [obj["subject"] for obj in listed.json()["result"]["results"]] == ["shared"]
    refs = (await gateway.last_record())["context"]
    assert [ref["objectId"] for ref in refs] == [shared["objectId"]]


async def test_secrets_are_never_shown_nor_queryable(gateway: Gateway, seed: Seed) -> None:
    user = await seed("Customer", name="Ann", email="ann@example.com", authData={"x": {"id": "1"}},
                      sessionToken="r:abc", password="hunter2")
    _, token = await gateway.agent("snoop")
    got = await gateway.call(token, "read", "get_object", {"className": "Customer", "objectId": user["objectId"]})
    shown = got.json()["result"]["object"]
    assert shown["name"] == "Ann"
    assert not {"email", "authData", "sessionToken", "password"} & set(shown)
    for ask in ({"keys": ["sessionToken"]}, {"keys": ["password"]}, {"keys": ["authData"]},
                {"where": {"email": "ann@example.com"}}, {"where": {"$or": [{"password": "hunter2"}]}},
                {"order": "-email"}):
        answer = await gateway.call(token, "read", "query_objects", {"className": "Customer", **ask})
        assert answer.status_code == 400 and answer.json()["code"] == 119, ask
        record = await gateway.last_record()
        assert record["outcome"] == "error" and "never available" in record["error"]
    described = await gateway.call(token, "read", "describe_class", {"className": "Customer"})
    assert "email" not in described.json()["result"]["fields"]


async def test_mass_delete_over_the_cap_waits_or_is_denied(gateway: Gateway, seed: Seed) -> None:
    for n in range(5):
        await seed("Note", n=n)
    agent_id, token = await gateway.agent("janitor", grants=["read:*", "write:*"])
    answer = await gateway.call(token, "write", "bulk_delete", {"className": "Note", "where": {}})
    assert answer.status_code == 202, answer.text
    assert answer.json()["approval"]["preview"]["count"] == 5
    assert await _count(gateway, "Note") == 5
    record = await gateway.last_record()
    assert (record["decision"], record["rule"], record["outcome"]) == ("needs_approval", "blast_radius", "pending")
    await gateway.admin("PUT", "/policy", json={"overCap": "deny"})
    denied = await gateway.call(token, "write", "bulk_delete", {"className": "Note", "where": {}})
    assert denied.status_code == 403 and denied.json()["rule"] == "blast_radius"
    assert await _count(gateway, "Note") == 5
    record = await gateway.last_record()
    assert (record["agentId"], record["decision"], record["rule"]) == (agent_id, "deny", "blast_radius")


async def test_rate_limit(gateway: Gateway, seed: Seed) -> None:
    await gateway.admin("PUT", "/policy", json={"agentRate": "3/minute"})
    _, token = await gateway.agent("chatty")
    statuses = [(await gateway.call(token, "read", "list_classes")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    record = await gateway.last_record()
    assert (record["decision"], record["rule"]) == ("deny", "rate.agent")
    assert record["policyVersion"] == 1


async def test_replaying_an_approved_approval_is_refused(gateway: Gateway, seed: Seed) -> None:
    counter = await seed("Counter", hits=0)
    _, token = await gateway.agent("bumper", grants=["*"])
    pending = await gateway.call(token, "write", "delete_object", {"className": "Counter",
                                                                   "objectId": counter["objectId"]})
    approval_id = pending.json()["approval"]["id"]
    first = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
    assert first.status_code == 200 and first.json()["status"] == "executed", first.text
    assert await _get(gateway, "Counter", counter["objectId"]) is None
    again = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
    assert again.status_code == 400 and again.json()["code"] == 119
    record = await gateway.last_record()
    assert (record["approvalId"], record["rule"], record["outcome"]) == (approval_id, "approval.not_pending",
                                                                         "blocked")


async def test_approving_a_stale_preview_is_refused(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("closer", grants=["*"])
    pending = await gateway.call(token, "write", "delete_object", {"className": "Order",
                                                                   "objectId": order["objectId"]})
    approval_id = pending.json()["approval"]["id"]
    changed = await gateway.http.put(f"/classes/Order/{order['objectId']}", json={"status": "paid"},
                                     headers=gateway.admin_headers)
    assert changed.status_code == 200
    refused = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
    assert refused.status_code == 400 and "stale" in refused.json()["error"]
    kept = await _get(gateway, "Order", order["objectId"])
    assert kept is not None and kept["status"] == "paid"
    shown = await gateway.admin("GET", f"/approvals/{approval_id}")
    assert shown.json()["status"] == "stale"
    record = await gateway.last_record()
    assert (record["approvalId"], record["rule"]) == (approval_id, "approval.stale")


async def test_revoked_and_expired_tokens(gateway: Gateway) -> None:
    agent_id, token = await gateway.agent("old")
    assert (await gateway.call(token, "read", "list_classes")).status_code == 200
    await gateway.admin("DELETE", f"/agents/{agent_id}/tokens")
    revoked = await gateway.call(token, "read", "list_classes")
    assert revoked.status_code == 401 and revoked.json()["rule"] == "token.revoked"
    record = await gateway.last_record()
    assert (record["agentId"], record["rule"], record["outcome"]) == (agent_id, "token.revoked", "blocked")
    fresh = (await gateway.admin("POST", f"/agents/{agent_id}/tokens", json={"days": 1})).json()["token"]
    assert (await gateway.call(fresh, "read", "list_classes")).status_code == 200
    raw = await gateway.tools.records.get(AGENT, agent_id)
    past = wire.format_iso(wire.parse_iso("2020-01-01T00:00:00.000Z"))
    tokens = [entry | {"expiresAt": past} for entry in raw["tokens"]]
    await gateway.tools.records.update(AGENT, agent_id, {"tokens": tokens})
    expired = await gateway.call(fresh, "read", "list_classes")
    assert expired.status_code == 401 and expired.json()["rule"] == "token.expired"
    assert (await gateway.last_record())["rule"] == "token.expired"
    unknown = await gateway.call("bal_not-a-token", "read", "list_classes")
    assert unknown.status_code == 401 and (await gateway.last_record())["rule"] == "token.unknown"


async def test_suspended_agent_is_stopped_mid_run(gateway: Gateway) -> None:
    agent_id, token = await gateway.agent("runner")
    run = {"X-Ballast-Run-Id": "run-42"}
    assert (await gateway.call(token, "read", "list_classes", headers=run)).status_code == 200
    await gateway.admin("POST", f"/agents/{agent_id}/suspend")
    stopped = await gateway.call(token, "read", "list_classes", headers=run)
    assert stopped.status_code == 403 and stopped.json()["rule"] == "agent.suspended"
    records = await gateway.records(runId="run-42")
    assert [(r["outcome"], r["rule"]) for r in records] == [("ok", "allow"), ("blocked", "agent.suspended")]
    await gateway.admin("POST", f"/agents/{agent_id}/resume")
    assert (await gateway.call(token, "read", "list_classes", headers=run)).status_code == 200


class Anything(BaseModel):
    pass


async def test_a_read_tool_cannot_write(gateway: Gateway, seed: Seed) -> None:
    await seed("Order", status="seed")

    async def sneaky(ctx: ToolContext, _: Anything) -> Anything:
        await ctx.objects.create(ctx.request, "Order", {"status": "written by a read tool"})
        return Anything()

    gateway.tools.registry.add(Tool("sneaky_read", "A buggy read tool.", Anything, Anything, sneaky, kind="read"))
    _, token = await gateway.agent("buggy")
    answer = await gateway.call(token, "read", "sneaky_read")
    assert answer.status_code == 500 and answer.json()["code"] == 1
    assert await _count(gateway, "Order") == 1
    record = await gateway.last_record()
    assert (record["tool"], record["outcome"]) == ("sneaky_read", "error")


async def test_a_repeated_idempotency_key_changes_nothing(gateway: Gateway, seed: Seed) -> None:
    await seed("Order", status="seed")
    _, token = await gateway.agent("retrier", grants=["*"])
    body = {"className": "Order", "fields": {"status": "new"}}
    key = {"Idempotency-Key": "k-1"}
    first = await gateway.call(token, "write", "create_object", body, headers=key)
    second = await gateway.call(token, "write", "create_object", body, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json()["result"] == second.json()["result"]
    assert second.json()["replayed"] is True
    assert await _count(gateway, "Order") == 2
    records = await gateway.records(tool="create_object")
    assert [r["outcome"] for r in records] == ["ok", "replayed"]
    assert records[1]["replayOf"] == records[0]["seq"]


async def test_racing_retries_with_one_key_change_once(gateway: Gateway, seed: Seed) -> None:
    await seed("Order", status="seed")
    _, token = await gateway.agent("racer", grants=["*"])
    body = {"className": "Order", "fields": {"status": "new"}}
    key = {"Idempotency-Key": "k-race"}
    first, second = await asyncio.gather(*(gateway.call(token, "write", "create_object", body, headers=key)
                                           for _ in range(2)))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["result"] == second.json()["result"]
    assert await _count(gateway, "Order") == 2
    outcomes = sorted(r["outcome"] for r in await gateway.records(tool="create_object"))
    assert outcomes == ["ok", "replayed"]
