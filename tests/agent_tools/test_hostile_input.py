"""Exactly one audit record per call, whatever its input; anonymous callers cost next to nothing (both engines).

Over REST and (deep input) over MCP with the official client: the call is refused with a clear 400 naming
the rule, nothing changes, the one record it leaves is bounded, and the chain verifies.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from agent_tools.model.bounds import MAX_DEPTH
from backend.app import create_app
from backend.cloud import FunctionSpec
from backend.config import Settings
from tests.agent_tools.conftest import Gateway, Seed
from tests.agent_tools.test_mcp import Site


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"$and": [value]} if levels % 2 else {"x": value}
    return value


async def _one_refusal(gateway: Gateway, before: int, rule: str) -> dict[str, Any]:
    records = await gateway.records()
    assert len(records) == before + 1, [r.get("rule") for r in records[before:]]
    record = records[-1]
    assert record["rule"] == rule and record["outcome"] == "blocked"
    assert len(orjson.dumps(record)) < 8 * 1024  # bounded, whatever came in
    assert (await gateway.verify())["ok"] is True
    return record


async def test_deep_and_wide_inputs_are_refused_with_one_record(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("deep", grants=["*"])
    ref = {"className": "Order", "objectId": order["objectId"]}
    cases = [("read", "query_objects", {"className": "Order", "where": _deep(400)}),
             ("write", "update_object", ref | {"fields": {"status": _deep(300)}}),
             ("write", "update_object", ref | {"fields": {f"f{i}": i for i in range(20_000)}}),
             ("read", "query_objects", {"className": "Order", "where": _deep(MAX_DEPTH + 1)})]
    for kind, tool, body in cases:
        before = len(await gateway.records())
        answer = await gateway.call(token, kind, tool, body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["rule"] == "input.too_complex" and answer.json()["code"] == 142
        record = await _one_refusal(gateway, before, "input.too_complex")
        assert record["input"]["$bounded"] is True and len(record["input"]["sha256"]) == 64
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["status"] == "new"


async def test_a_cloud_function_with_deep_params_never_runs(app: FastAPI, gateway: Gateway) -> None:
    ran: list[Any] = []

    async def effect(req: Any) -> str:
        ran.append(req.params)
        return "done"

    app.state.services.cloud.registry.functions["effect"] = FunctionSpec("effect", effect, agent_callable=True)
    _, token = await gateway.agent("caller", grants=["run_cloud_function"])
    answer = await gateway.call(token, "write", "run_cloud_function", {"name": "effect", "params": _deep(300)})
    assert answer.status_code == 400 and answer.json()["rule"] == "input.too_complex"
    assert ran == []
    await _one_refusal(gateway, 0, "input.too_complex")
    fine = await gateway.call(token, "write", "run_cloud_function", {"name": "effect", "params": _deep(5)})
    assert fine.status_code == 200 and len(ran) == 1


async def test_a_large_valid_input_is_stored_as_hash_and_head(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new")
    _, token = await gateway.agent("big", grants=["*"])
    note = "x" * 100_000
    answer = await gateway.call(token, "write", "update_object", {
        "className": "Order", "objectId": order["objectId"], "fields": {"note": note, "password": "hunter2"}})
    assert answer.status_code == 400 and "password" in answer.json()["error"]  # a secret field: refused
    stored = (await gateway.records())[-1]["input"]
    assert stored["$bounded"] is True and stored["bytes"] > 100_000 and len(stored["head"]) <= 2048
    assert "hunter2" not in orjson.dumps(stored).decode()


async def test_anonymous_callers_store_next_to_nothing(gateway: Gateway) -> None:
    body = {"blob": "y" * 900_000}
    for token in (None, "bal_forgedforgd_x", "not-a-token"):
        answer = await gateway.call(token, "write", "update_object", body)
        assert answer.status_code == 401, answer.text
    records = await gateway.records()
    assert len(records) == 3 and all(r["rule"] == "token.unknown" for r in records)
    assert all(len(orjson.dumps(r)) < 2048 for r in records)
    assert (await gateway.verify())["ok"] is True


async def test_deep_input_over_mcp_is_refused_with_one_record(site: Site) -> None:
    agent_id, secret = await site.agent("mcp-deep", ["*"])
    token = await site.access_token(agent_id, secret)
    async with site.mcp(token) as session:
        result = await session.call_tool("query_objects", {"className": "Order", "where": _deep(100)})
    assert result.is_error
    records = await site.records(agentId=agent_id)
    assert [r["rule"] for r in records] == ["input.too_complex"]
    verified = await site.admin("POST", "/audit/verify")
    assert verified.json()["ok"] is True


async def test_an_address_failing_authentication_is_cut_off_before_token_checks(gateway: Gateway) -> None:
    statuses = [(await gateway.call(f"bal_forgedforg{i:02d}_x", "read", "list_classes", {"blob": "z" * 50_000}))
                .status_code for i in range(35)]
    assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}
    records = await gateway.records()
    assert len(records) == 35 and {r["rule"] for r in records[30:]} == {"rate.address"}
    assert sum(len(orjson.dumps(r)) for r in records) < 35 * 1024  # 35 calls of 50 KB each stored ~nothing
    assert (await gateway.verify())["ok"] is True


async def test_the_per_address_rate_is_a_setting(settings: Settings, master_headers: dict[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BALLAST_AGENT_ADDRESS_RATE", raising=False)
    assert Settings().agent_address_rate == "1200/minute"
    for bad in ("lots", "0/minute"):  # refused at start-up, not on the first call (0 would refuse every call)
        with pytest.raises(ValidationError, match="agent_address_rate"):
            Settings(agent_address_rate=bad)
    monkeypatch.setenv("BALLAST_AGENT_ADDRESS_RATE", "4/minute")
    app = create_app(settings.model_copy(update={"agent_address_rate": Settings().agent_address_rate,
                                                 "jobs_enabled": False}))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://127.0.0.1/parse") as http:
        gateway = Gateway(http, master_headers, app.state.agent_tools)
        _, token = await gateway.agent("busy")
        statuses = [(await gateway.call(token, "read", "list_classes", {})).status_code for _ in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        records = await gateway.records()
        assert [r["rule"] for r in records[-2:]] == ["rate.address"] * 2
        assert (await gateway.verify())["ok"] is True
