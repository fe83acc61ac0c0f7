"""Verify survives an upgrade: records an earlier release wrote without some indexed copies are filled once,
from their hashed bodies, when instances start; verify stays strict, so a changed or blanked copy still shows."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from agent_tools.stores.audit import INDEXED
from agent_tools.stores.classes import AUDIT_HEAD, TOOL_CALL
from backend.config import Settings
from tests.agent_tools.conftest import Gateway, Seed
from tests.agent_tools.test_run_budgets import _instances


async def _calls_with_every_copy(gateway: Gateway, seed: Seed) -> None:
    """Records that between them hold every indexed copy (approvalId: a pending delete; idempotencyKey: a write)."""
    order = await seed("Order", status="new")
    ref = {"className": "Order", "objectId": order["objectId"]}
    _, token = await gateway.agent("old", grants=["read:*", "update_object", "delete_object"])
    answers = [await gateway.call(token, "read", "get_object", ref),
               await gateway.call(token, "write", "create_object", {"className": "Order", "fields": {}}),
               await gateway.call(token, "write", "update_object", ref | {"fields": {"status": "a"}},
                                  {"Idempotency-Key": "k-old"}),
               await gateway.call(token, "write", "delete_object", ref)]
    assert [answer.status_code for answer in answers] == [200, 403, 200, 202]


async def _as_stored_by_an_earlier_release(gateway: Gateway, copies: tuple[str, ...]) -> int:
    """Blank these copies of every record and the heads' note of them, as rows (the storage layer's update)."""
    blanked = 0
    rows = gateway.tools.records.rows
    async with gateway.tools.services.db.unit() as unit:
        for row in await rows.find(unit, TOOL_CALL, {}):
            if held := {key: None for key in copies if row.get(key) is not None}:
                await rows.set_later(unit, TOOL_CALL, str(row["objectId"]), held)
                blanked += 1
        for head in await rows.find(unit, AUDIT_HEAD, {}):
            await rows.set_later(unit, AUDIT_HEAD, str(head["objectId"]), {"copies": None})
    return blanked


async def _copy(gateway: Gateway, key: str) -> dict[str, Any]:
    rows = gateway.tools.records.rows
    async with gateway.tools.services.db.unit(read_only=True) as unit:
        return next(row for row in await rows.find(unit, TOOL_CALL, {}) if row.get(key) is not None)


@pytest.mark.parametrize("copies", [("rule",), INDEXED])
async def test_records_without_newer_copies_verify_after_an_upgrade_and_tampering_still_shows(
        gateway: Gateway, seed: Seed, settings: Settings, master_headers: dict[str, str],
        copies: tuple[str, ...]) -> None:
    await _calls_with_every_copy(gateway, seed)
    assert await _as_stored_by_an_earlier_release(gateway, copies) > 0
    assert not (await gateway.verify())["ok"]  # not filled yet: a strict verify sees the blanks
    async with AsyncExitStack() as stack:
        first, second = await _instances(settings, master_headers, stack)  # the upgraded release, twice
        await asyncio.gather(first.tools.ready(), second.tools.ready())  # starting together
        report = await second.verify()
        assert report == {"ok": True, "records": 4, "problems": []}
        for key in copies:  # every copy is back, and a changed one (or a blanked one) is caught again
            row = await _copy(first, key)
            await first.tools.records.update(TOOL_CALL, str(row["objectId"]), {key: "forged"})
            report = await first.verify()
            assert not report["ok"] and any(f"field {key} differs" in problem for problem in report["problems"])
            await first.tools.records.update(TOOL_CALL, str(row["objectId"]), {key: row[key]})
        assert (await first.verify())["ok"]
        await first.tools.records.update(TOOL_CALL, str((await _copy(first, "rule"))["objectId"]),
                                         {"rule": {"__op": "Delete"}})
        report = await first.verify()
        assert not report["ok"] and any("field rule differs" in problem for problem in report["problems"])
