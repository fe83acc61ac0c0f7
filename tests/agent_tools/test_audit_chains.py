"""The audit's several chains: concurrent calls spread over them, every record is kept once, verify proves all."""

from __future__ import annotations

import asyncio

from agent_tools.stores.audit import SPAN
from agent_tools.stores.classes import TOOL_CALL
from agent_tools.wiring import AgentTools
from backend.config import Settings
from backend.services.wiring import build_services
from tests.agent_tools.conftest import Gateway, Seed
from tests.support.killed import acknowledged_until_killed


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


async def test_a_batch_with_one_failing_record_keeps_the_others_and_the_chain(gateway: Gateway) -> None:
    # records of reads are committed together (group commit); records of different shapes share a batch, and one
    # that the database refuses (a second record of one agent's idempotency key) fails alone: the others commit
    # once each, with their own content, and every chain still verifies (SQLite sends a batch in one executemany)
    audit = gateway.tools.audit
    await gateway.tools.ready()
    base = {"agentId": "agent00001", "runId": "run_0000000000000001", "tool": "get_object", "kind": "read",
            "decision": "allow", "rule": "allow", "outcome": "ok", "input": {"n": 0}}
    first = await audit.record(base | {"idempotencyKey": "taken"})
    shapes = [base | {"input": {"n": n}} | ({"userId": f"user{n:06d}"} if n % 2 else {"error": "x", "code": 1})
              for n in range(1, 12)]
    shapes.insert(5, base | {"idempotencyKey": "taken", "input": {"n": "dup"}})
    outcomes = await asyncio.gather(*(audit.record(entry) for entry in shapes), return_exceptions=True)
    failed = [index for index, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [5]
    kept = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    assert sorted(record["input"]["n"] for record in kept) == list(range(1, 12))
    assert all(record.get("userId") == (f"user{record['input']['n']:06d}" if record["input"]["n"] % 2 else None)
               for record in kept)
    records = await gateway.records()
    assert sorted(record["seq"] for record in records) == sorted([first["seq"], *(r["seq"] for r in kept)])
    assert await gateway.verify() == {"ok": True, "records": 12, "problems": []}


async def test_records_a_killed_process_had_answered_survive_and_every_chain_verifies(settings: Settings) -> None:
    """Records by group commit and by append in write units, 32 callers at a time, in another process killed
    (SIGKILL) mid-stream: every record it had answered is stored, and no chain is left broken (both engines)."""
    printed = await acknowledged_until_killed(
        "tests.agent_tools.killed_auditor", [str(settings.data_dir), settings.database_uri or ""], 401)
    assert printed[0] == "ready"
    answered = [int(line) for line in printed[1:]]
    survivor = build_services(settings)
    await survivor.start()
    try:
        tools = AgentTools(survivor)
        await tools.ready()
        report = await tools.audit.verify()
        stored = {int(row["seq"]) for row in await tools.records.find(TOOL_CALL, {}, order="seq", limit=100_000)}
        assert report.ok, report.problems
        assert set(answered) <= stored and report.records == len(stored) >= len(answered)
        await tools.close()
    finally:
        await survivor.stop()
