"""The audit trail: one record per call, committed with its write, chained so tampering shows."""

from __future__ import annotations

import orjson

from agent_tools.stores.classes import SYSTEM, TOOL_CALL
from tests.agent_tools.conftest import Gateway, Seed


async def test_every_call_has_exactly_one_record(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("mixed", grants=["read:*", "update_object", "delete_object"])
    calls = [
        ("read", "get_object", {"className": "Order", "objectId": order["objectId"]}),  # ok
        ("read", "get_object", {"className": "Order", "objectId": "nope"}),  # tool error
        ("read", "get_object", {"className": 5}),  # invalid input
        ("write", "create_object", {"className": "Order", "fields": {}}),  # no grant
        ("write", "update_object", {"className": "Order", "objectId": order["objectId"], "fields": {"status": "a"}}),
        ("write", "delete_object", {"className": "Order", "objectId": order["objectId"]}),  # pending approval
        ("read", "no_such_tool", {}),
    ]
    statuses = []
    for kind, tool, body in calls:
        statuses.append((await gateway.call(token, kind, tool, body)).status_code)
    assert statuses == [200, 404, 400, 403, 200, 202, 404]
    records = await gateway.records()
    assert len(records) == len(calls)
    assert [r["seq"] for r in records] == list(range(1, len(calls) + 1))
    assert [r["outcome"] for r in records] == ["ok", "error", "blocked", "blocked", "ok", "pending", "blocked"]
    assert all(r["durationMs"] >= 0 and r["runId"] and r["time"] for r in records)
    assert records[4]["toolVersion"] and records[4]["policyVersion"] == 0


async def test_a_write_and_its_record_roll_back_together(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("writer", grants=["*"])
    assert (await gateway.call(token, "read", "list_classes")).status_code == 200
    # a record planted at the next sequence number (by someone with database access: the Parse API refuses it,
    # even with the master key) makes the audit append fail inside the write's unit
    refused = await gateway.http.post("/classes/_ToolCall", json={"seq": 2, "body": "{}", "hash": "x"},
                                      headers=gateway.admin_headers)
    assert refused.status_code == 400 and refused.json()["error"].startswith("internal.class")
    await gateway.tools.records.create(TOOL_CALL, {"seq": 2, "body": "{}", "hash": "x"})
    answer = await gateway.call(token, "write", "update_object",
                                {"className": "Order", "objectId": order["objectId"], "fields": {"status": "paid"}})
    assert answer.status_code == 500 and answer.json()["rule"] == "audit.failed"
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["status"] == "new"  # the change rolled back with its record
    records = await gateway.records()
    assert [r.get("tool") for r in records] == ["list_classes", None]
    assert not (await gateway.verify())["ok"]  # and the planted record itself is caught


async def test_tampering_and_removal_are_detected(gateway: Gateway, seed: Seed) -> None:
    _, token = await gateway.agent("witness")
    for _ in range(3):
        await gateway.call(token, "read", "list_classes")
    assert (await gateway.verify()) == {"ok": True, "records": 3, "problems": []}
    rows = (await gateway.http.get("/classes/_ToolCall", params={"order": "seq"},
                                   headers=gateway.admin_headers)).json()["results"]
    # the Parse API refuses both, even with the master key; someone with database access gets through
    for method in ("PUT", "DELETE"):
        refused = await gateway.http.request(method, f"/classes/_ToolCall/{rows[1]['objectId']}",
                                             json={"decision": "deny"}, headers=gateway.admin_headers)
        assert refused.status_code == 400 and refused.json()["error"].startswith("internal.class")
    assert (await gateway.verify())["ok"]
    records = gateway.tools.records
    await records.update(TOOL_CALL, rows[1]["objectId"], {"decision": "deny"})
    report = await gateway.verify()
    assert not report["ok"] and any("decision" in problem for problem in report["problems"])
    await records.objects.delete(SYSTEM, TOOL_CALL, rows[2]["objectId"])
    report = await gateway.verify()
    assert any("removed" in problem for problem in report["problems"])


async def test_audit_is_queryable_and_exports_json_lines(gateway: Gateway) -> None:
    first, token_a = await gateway.agent("a")
    _, token_b = await gateway.agent("b")
    await gateway.call(token_a, "read", "list_classes", headers={"X-Ballast-Run-Id": "r1"})
    await gateway.call(token_b, "read", "list_classes")
    await gateway.call(token_a, "write", "create_object", {"className": "X", "fields": {}})
    assert len(await gateway.records(agentId=first)) == 2
    assert len(await gateway.records(runId="r1")) == 1
    assert len(await gateway.records(decision="deny")) == 1
    assert len(await gateway.records(since="2000-01-01T00:00:00.000Z", until="2000-01-02T00:00:00.000Z")) == 0
    exported = await gateway.admin("GET", "/audit/export", params={"agentId": first})
    lines = [orjson.loads(line) for line in exported.text.splitlines()]
    assert [line["tool"] for line in lines] == ["list_classes", "create_object"]
    assert all(line["hash"] for line in lines)


async def test_audit_and_admin_need_the_master_key(gateway: Gateway, headers: dict[str, str]) -> None:
    answer = await gateway.http.get("http://127.0.0.1/agent/v1/admin/audit", headers=headers)
    assert answer.status_code in (400, 403)
    created = await gateway.http.post("http://127.0.0.1/agent/v1/admin/agents", json={"name": "x"}, headers=headers)
    assert created.status_code in (400, 403)
