"""Two Ballast instances on one database: an agent changed through one is stopped on the other's next call.

Reads are admitted on a process's copy of the agent row and confirmed in the transaction that writes their
audit record; these tests change the agent through instance B after instance A has read (and kept) it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from agent_tools.stores.agents import EAGER_CONFIRMATIONS, Confirmations
from backend.app import create_app
from backend.config import Settings
from tests.agent_tools.conftest import Gateway, Seed


@pytest.fixture
async def other(settings: Settings, app: FastAPI, master_headers: dict[str, str]) -> AsyncIterator[Gateway]:
    """A second instance (its own app, caches and audit chains) on the first one's database."""
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield Gateway(http, master_headers, second.state.agent_tools)


async def _read(gateway: Gateway, token: str, order: dict[str, str]) -> httpx.Response:
    return await gateway.call(token, "read", "get_object", {"className": "Order", "objectId": order["objectId"]})


async def test_suspending_through_another_instance_stops_the_next_read_and_write(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=1)
    agent_id, token = await gateway.agent("roamer", grants=["get_object", "update_object"])
    assert (await _read(gateway, token, order)).status_code == 200  # instance A now holds the agent's row

    assert (await other.admin("POST", f"/agents/{agent_id}/suspend")).status_code == 200
    stopped = await _read(gateway, token, order)
    assert stopped.status_code == 403 and stopped.json()["rule"] == "agent.suspended"
    ref = {"className": "Order", "objectId": order["objectId"]}
    write = await gateway.call(token, "write", "update_object", ref | {"fields": {"n": 2}})
    assert write.status_code == 403 and write.json()["rule"] == "agent.suspended"

    assert (await other.admin("POST", f"/agents/{agent_id}/resume")).status_code == 200
    assert (await _read(gateway, token, order)).status_code == 200  # resumed: A's copy is refreshed as well
    records = await gateway.records(agentId=agent_id)
    assert [(record["tool"], record["outcome"]) for record in records] == [
        ("get_object", "ok"), ("get_object", "blocked"), ("update_object", "blocked"), ("get_object", "ok")]
    assert records[1]["rule"] == "agent.suspended" and records[1]["policyVersion"] is not None
    assert (await gateway.verify())["ok"]


async def test_tokens_and_grants_changed_elsewhere_hold_on_the_next_read(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=1)
    agent_id, token = await gateway.agent("rotator", grants=["get_object", "count_objects"])
    assert (await _read(gateway, token, order)).status_code == 200

    rotated = await other.admin("POST", f"/agents/{agent_id}/tokens", json={"revokeOthers": True})
    assert rotated.status_code in (200, 201), rotated.text
    fresh = rotated.json()["token"]
    revoked = await _read(gateway, token, order)
    assert revoked.status_code == 401 and revoked.json()["rule"] == "token.revoked"
    assert (await _read(gateway, fresh, order)).status_code == 200  # a token A has never seen works at once

    granted = await other.admin("PUT", f"/agents/{agent_id}/grants", json={"grants": ["count_objects"]})
    assert granted.status_code == 200, granted.text
    ungranted = await _read(gateway, fresh, order)
    assert ungranted.status_code == 403 and ungranted.json()["rule"] == "grant.missing"
    assert len(await gateway.records(agentId=agent_id)) == 4  # one record per call, none for a re-run


async def test_concurrent_tool_calls_on_two_instances_keep_every_chain_provable(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    orders = [await seed("Order", n=0) for _ in range(6)]
    _, token = await gateway.agent("pair", grants=["get_object", "update_object"])

    async def work(instance: Gateway, order: dict[str, str], n: int) -> tuple[int, int]:
        ref = {"className": "Order", "objectId": order["objectId"]}
        wrote = await instance.call(token, "write", "update_object", ref | {"fields": {"n": n}})
        read = await instance.call(token, "read", "get_object", ref)
        return wrote.status_code, read.status_code

    calls = [work(instance, order, n) for n in range(2) for order in orders for instance in (gateway, other)]
    statuses = await asyncio.gather(*calls)
    assert set(statuses) == {(200, 200)}
    records = await gateway.records()
    assert len(records) == 2 * len(statuses) and len({record["seq"] for record in records}) == len(records)
    assert await other.verify() == {"ok": True, "records": len(records), "problems": []}


async def test_a_write_right_after_a_suspension_elsewhere_changes_nothing(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=1)
    agent_id, token = await gateway.agent("writer", grants=["get_object", "update_object"])
    ref = {"className": "Order", "objectId": order["objectId"]}
    assert (await gateway.call(token, "write", "update_object", ref | {"fields": {"n": 2}})).status_code == 200

    assert (await other.admin("POST", f"/agents/{agent_id}/suspend")).status_code == 200
    stopped = await gateway.call(token, "write", "update_object", ref | {"fields": {"n": 3}})
    assert stopped.status_code == 403 and stopped.json()["rule"] == "agent.suspended"
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["n"] == 2
    records = await gateway.records(agentId=agent_id)
    assert [(record["outcome"], record.get("rule")) for record in records] == [
        ("ok", "allow"), ("blocked", "agent.suspended")]
    assert (await other.verify())["ok"]


async def test_a_write_on_a_chain_another_instance_moved_runs_again_and_stays_provable(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=0)
    agent_id, token = await gateway.agent("shared", grants=["update_object"])
    ref = {"className": "Order", "objectId": order["objectId"]}
    # each instance appends to its lowest free chain, 0: A trusts its head of chain 0, B moves it, A writes again
    for instance, n in ((gateway, 1), (other, 2), (gateway, 3)):
        answer = await instance.call(token, "write", "update_object", ref | {"fields": {"n": n}})
        assert answer.status_code == 200, answer.text
    assert gateway.tools.audit._trust_after > 0  # A's third write found chain 0 moved, and ran again
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["n"] == 3
    records = await gateway.records(agentId=agent_id)
    assert [record["input"]["fields"]["n"] for record in records] == [1, 2, 3]
    assert [record["seq"] for record in records] == [1, 2, 3]  # one chain, one record per call
    assert (await other.verify())["ok"]


async def test_concurrent_writes_right_after_a_suspension_elsewhere_all_stop(
        gateway: Gateway, other: Gateway, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []  # writes admitted on A's copy of the agent, confirmed in groups before they commit
    ask = Confirmations.ask

    def noted(self: Confirmations, seen: tuple[str, bytes]) -> asyncio.Future[bool]:
        asked.append(seen[0])
        return ask(self, seen)

    monkeypatch.setattr(Confirmations, "ask", noted)
    orders = [await seed("Order", n=0) for _ in range(8)]
    agent_id, token = await gateway.agent("crowd", grants=["update_object"])

    async def write(order: dict[str, str], n: int) -> httpx.Response:
        ref = {"className": "Order", "objectId": order["objectId"]}
        return await gateway.call(token, "write", "update_object", ref | {"fields": {"n": n}})

    assert {answer.status_code for answer in await asyncio.gather(*(write(o, 1) for o in orders))} == {200}
    assert (await other.admin("POST", f"/agents/{agent_id}/suspend")).status_code == 200
    stopped = await asyncio.gather(*(write(order, 2) for order in orders))
    assert {(answer.status_code, answer.json()["rule"]) for answer in stopped} == {(403, "agent.suspended")}
    for order in orders:
        stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
        assert stored.json()["n"] == 1
    assert len(await gateway.records(agentId=agent_id)) == 16
    assert asked


async def test_confirmations_no_call_waits_for_are_answered_anyway(gateway: Gateway) -> None:
    # a write that fails after admission never needs its confirmation: past a bound, the query runs anyway
    agent_id, _ = await gateway.agent("quiet", grants=["update_object"])
    confirmations = gateway.tools.confirmations
    asked = [confirmations.ask((agent_id, b"a standing the row never had")) for _ in range(EAGER_CONFIRMATIONS)]
    answers = await asyncio.wait_for(asyncio.gather(*asked), timeout=30)
    assert answers == [False] * EAGER_CONFIRMATIONS


async def test_provenance_a_reader_remembers_follows_a_write_through_another_instance(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=1)
    ref = {"className": "Order", "objectId": order["objectId"]}
    first_id, first = await gateway.agent("first-writer", grants=["update_object"])
    second_id, second = await other.agent("second-writer", grants=["update_object"])
    _, reader = await gateway.agent("reader", grants=["get_object"])

    def writer_shown(answer: httpx.Response) -> str:
        assert answer.status_code == 200, answer.text
        return str(answer.json()["result"]["object"]["_provenance"]["agentId"])

    assert (await gateway.call(first, "write", "update_object", ref | {"fields": {"n": 2}})).status_code == 200
    assert writer_shown(await _read(gateway, reader, order)) == first_id
    assert writer_shown(await _read(gateway, reader, order)) == first_id  # A remembers it: the object is unchanged
    assert (await other.call(second, "write", "update_object", ref | {"fields": {"n": 3}})).status_code == 200
    assert writer_shown(await _read(gateway, reader, order)) == second_id


async def test_racing_reads_and_writes_on_two_instances_each_leave_exactly_one_record(
        gateway: Gateway, other: Gateway, seed: Seed) -> None:
    order = await seed("Order", n=0)
    ref = {"className": "Order", "objectId": order["objectId"]}
    _, token = await gateway.agent("racer", grants=["count_objects", "update_object"])
    # a fresh database: both instances start on the lowest free chains, so their appends meet on the same
    # heads from the first call on (group-committed reads with writes; heads trusted, then moved by the other)

    async def one(instance: Gateway, n: int) -> httpx.Response:
        if n % 4 == 3:
            return await instance.call(token, "write", "update_object", ref | {"fields": {"n": n}})
        return await instance.call(token, "read", "count_objects", {"className": "Order"})

    calls = 0
    for _ in range(4):  # rounds: each starts with both instances trusting heads the other has moved
        answers = await asyncio.gather(*(one((gateway, other)[n % 2], n) for n in range(24)))
        assert [answer.status_code for answer in answers] == [200] * len(answers), [a.text for a in answers]
        calls += len(answers)
    records = await gateway.records()
    assert len(records) == calls and len({record["seq"] for record in records}) == calls
    assert await other.verify() == {"ok": True, "records": calls, "problems": []}
