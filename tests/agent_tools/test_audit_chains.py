"""The audit's several chains: concurrent calls spread over them, every record is kept once, verify proves all."""

from __future__ import annotations

import asyncio

from agent_tools.stores.audit import SPAN
from agent_tools.stores.classes import TOOL_CALL
from tests.agent_tools.conftest import Gateway, Seed


async def test_concurrent_calls_each_get_one_record_and_every_chain_verifies(gateway: Gateway, seed: Seed) -> None:
    orders = [await seed("Order", n=0) for _ in range(12)]
    _, token = await gateway.agent("busy", grants=["get_object", "update_object"])

    async def work(order: dict[str, str], n: int) -> int:
        ref = {"className": "Order", "objectId": order["objectId"]}
        wrote = await gateway.call(token, "write", "update_object", ref | {"fields": {"n": n}})
        read = await gateway.call(token, "read", "get_object", ref)
        return wrote.status_code + read.status_code

    statuses = await asyncio.gather(*(work(order, n) for n in range(3) for order in orders))
    assert statuses == [400] * len(statuses)  # 200 + 200 each
    records = await gateway.records()
    assert len(records) == 2 * len(statuses)
    assert len({record["seq"] for record in records}) == len(records)
    report = await gateway.verify()
    assert report == {"ok": True, "records": len(records), "problems": []}
    stored = await gateway.http.get(f"/classes/Order/{orders[0]['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["n"] in (0, 1, 2)


async def test_tampering_in_any_chain_is_detected(gateway: Gateway) -> None:
    _, token = await gateway.agent("witness")
    await gateway.call(token, "read", "list_classes")
    # a record forged into another chain (it links to nothing there) breaks verification
    await gateway.tools.records.create(TOOL_CALL, {"seq": 3 * SPAN + 1, "body": "{}", "hash": "x"})
    report = await gateway.verify()
    assert not report["ok"] and any("chain 3" in problem for problem in report["problems"])
