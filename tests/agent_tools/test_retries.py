"""Retries stay safe through approvals: an Idempotency-Key is bound to (agent, tool, input) (both engines)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from backend.cloud import FunctionSpec
from tests.agent_tools.conftest import Gateway, Seed


async def test_a_retried_pending_write_gets_the_same_approval_and_runs_once(app: FastAPI, gateway: Gateway) -> None:
    ran: list[Any] = []

    async def risky(req: Any) -> str:
        ran.append(req.params)
        return "paid"

    app.state.services.cloud.registry.functions["pay"] = FunctionSpec("pay", risky, agent_callable=True, risk="high")
    _, token = await gateway.agent("payer", grants=["*"])
    key, body = {"Idempotency-Key": "pay-1"}, {"name": "pay", "params": {"amount": 5}}
    answers = await asyncio.gather(*(gateway.call(token, "write", "run_cloud_function", body, key) for _ in range(3)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    approval_ids = {a.json()["approval"]["id"] for a in answers}
    assert len(approval_ids) == 1
    listed = (await gateway.admin("GET", "/approvals")).json()["results"]
    assert [a["objectId"] for a in listed] == list(approval_ids)
    approved = await gateway.admin("POST", f"/approvals/{approval_ids.pop()}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "executed", approved.text
    again = await gateway.call(token, "write", "run_cloud_function", body, key)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert len(ran) == 1
    assert (await gateway.verify())["ok"] is True


async def test_a_key_reused_for_another_tool_or_input_is_refused(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("retrier", grants=["*"])
    key = {"Idempotency-Key": "k-1"}
    first = await gateway.call(token, "write", "update_object", {
        "className": "Order", "objectId": order["objectId"], "fields": {"status": "paid"}}, key)
    assert first.status_code == 200
    for tool, body in (("create_object", {"className": "Order", "fields": {"status": "x"}}),
                       ("update_object", {"className": "Order", "objectId": order["objectId"],
                                          "fields": {"status": "refunded"}})):
        refused = await gateway.call(token, "write", tool, body, key)
        assert refused.status_code == 400 and refused.json()["rule"] == "idempotency.mismatch", refused.text
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["status"] == "paid"
    same = await gateway.call(token, "write", "update_object", {
        "className": "Order", "objectId": order["objectId"], "fields": {"status": "paid"}}, key)
    assert same.status_code == 200 and same.json()["replayed"] is True
    rules = [r["rule"] for r in await gateway.records()]
    assert rules[-3:] == ["idempotency.mismatch", "idempotency.mismatch", "idempotent.replay"]
    assert (await gateway.verify())["ok"] is True


async def test_a_key_of_a_pending_write_reused_for_another_input_is_refused(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("deleter", grants=["*"])
    key = {"Idempotency-Key": "del-1"}
    pending = await gateway.call(token, "write", "delete_object", {"className": "Order",
                                                                   "objectId": order["objectId"]}, key)
    assert pending.status_code == 202
    other = await seed("Order", status="other")
    refused = await gateway.call(token, "write", "delete_object", {"className": "Order",
                                                                   "objectId": other["objectId"]}, key)
    assert refused.status_code == 400 and refused.json()["rule"] == "idempotency.mismatch"
    assert len((await gateway.admin("GET", "/approvals")).json()["results"]) == 1
