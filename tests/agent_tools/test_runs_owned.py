"""Runs are owned, and their budgets are never overspent (both engines; two instances for ownership)."""

from __future__ import annotations

import asyncio

from tests.agent_tools.conftest import Gateway, Seed
from tests.agent_tools.test_instances import other  # noqa: F401 - the second-instance fixture


async def _count(gateway: Gateway, class_name: str) -> int:
    answer = await gateway.http.get(f"/classes/{class_name}", params={"count": 1, "limit": 0},
                                    headers=gateway.admin_headers)
    return int(answer.json()["count"])


async def test_another_agent_cannot_use_a_victims_run(gateway: Gateway, other: Gateway,  # noqa: F811
                                                      seed: Seed) -> None:
    order = await seed("Order", n=1)
    victim_id, victim = await gateway.agent("victim", grants=["*"])
    _, thief = await gateway.agent("thief", grants=["*"])
    run = {"X-Ballast-Run-Id": "r-victim"}
    ref = {"className": "Order", "objectId": order["objectId"]}
    assert (await gateway.call(victim, "write", "update_object", ref | {"fields": {"n": 2}}, run)).status_code == 200
    for instance in (gateway, other):  # this instance remembers the owner; the other finds it in the audit
        for kind, tool, body in (("write", "update_object", ref | {"fields": {"n": 9}}), ("read", "get_object", ref)):
            refused = await instance.call(thief, kind, tool, body, run)
            assert refused.status_code == 403 and refused.json()["rule"] == "run.owner", refused.text
            assert refused.json()["runId"] != "r-victim"
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["n"] == 2
    in_run = await gateway.records(runId="r-victim")
    assert [r["agentId"] for r in in_run] == [victim_id]  # the victim's trail and replay hold only its calls
    assert (await gateway.call(victim, "read", "get_object", ref, run)).status_code == 200
    assert (await gateway.verify())["ok"] is True


async def test_concurrent_writes_never_pass_the_run_budget(gateway: Gateway, seed: Seed) -> None:
    await seed("Burst", i=-1)
    await gateway.admin("PUT", "/policy", json={"runWrites": 5})
    _, token = await gateway.agent("burst", grants=["*"])
    run = {"X-Ballast-Run-Id": "r-burst"}
    answers = await asyncio.gather(*(gateway.call(token, "write", "create_object",
                                                  {"className": "Burst", "fields": {"i": i}}, run)
                                      for i in range(12)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 5 + [403] * 7, [a.text for a in answers]
    assert {a.json()["rule"] for a in answers if a.status_code == 403} == {"budget.writes"}
    assert await _count(gateway, "Burst") == 1 + 5
    assert len(await gateway.records(runId="r-burst")) == 12
    assert (await gateway.verify())["ok"] is True


async def test_a_failed_write_gives_its_place_back(gateway: Gateway, seed: Seed) -> None:
    await seed("Burst", i=-1)
    await gateway.admin("PUT", "/policy", json={"runWrites": 1})
    _, token = await gateway.agent("careful", grants=["*"])
    run = {"X-Ballast-Run-Id": "r-careful"}
    missing = await gateway.call(token, "write", "update_object",
                                 {"className": "Order", "objectId": "nothere123", "fields": {"n": 1}}, run)
    assert missing.status_code == 404
    made = await gateway.call(token, "write", "create_object", {"className": "Burst", "fields": {"i": 1}}, run)
    assert made.status_code == 200, made.text
    over = await gateway.call(token, "write", "create_object", {"className": "Burst", "fields": {"i": 2}}, run)
    assert over.status_code == 403 and over.json()["rule"] == "budget.writes"
