"""Hostile run ids and idempotency keys: refused at the edge (400 ``input.invalid``) with one small record, over
REST and MCP, authenticated or not; the record never stores the hostile value (both engines)."""

from __future__ import annotations

from typing import cast

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.agent_tools.conftest import Gateway, Seed, tool_text
from tests.agent_tools.test_mcp import Site

HOSTILE = ["r" * 20_000, "r" * 129, "two words", "caf\u00e9"]


@pytest.mark.parametrize("header", ["X-Ballast-Run-Id", "Idempotency-Key"])
async def test_a_hostile_run_id_or_key_is_refused_with_one_small_record(gateway: Gateway, seed: Seed,
                                                                        header: str) -> None:
    await seed("Burst", i=0)
    _, token = await gateway.agent("huge", grants=["*"])
    for value in HOSTILE:
        for caller in (token, "bal_forged", None):
            answer = await gateway.call(caller, "write", "create_object",
                                        {"className": "Burst", "fields": {"i": 1}},
                                        cast(dict[str, str], {header: value.encode()}))  # as sent
            assert answer.status_code == 400 and answer.json()["rule"] == "input.invalid", answer.text
            assert f"{header} must be 1 to 128 visible ASCII characters" in answer.json()["error"]
            assert len(answer.headers["X-Ballast-Run-Id"]) < 64
    records = await gateway.records()
    assert len(records) == len(HOSTILE) * 3 and all(len(str(record)) < 2000 for record in records)
    stored = await gateway.http.get("/classes/Burst", params={"count": 1, "limit": 0},
                                    headers=gateway.admin_headers)
    assert stored.json()["count"] == 1
    ok = await gateway.call(token, "write", "create_object", {"className": "Burst", "fields": {"i": 2}},
                            {header: "r" * 128})
    assert ok.status_code == 200, ok.text
    assert (await gateway.verify())["ok"] is True


async def test_over_mcp_a_hostile_run_id_is_refused_too(site: Site) -> None:
    agent_id, secret = await site.agent("mcp-huge", ["read:*"])
    headers = {"Authorization": f"Bearer {secret}", "X-Ballast-Run-Id": "r" * 5000}
    async with (httpx2.AsyncClient(headers=headers, timeout=30) as client,
                streamable_http_client(f"{site.origin}/mcp", http_client=client) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        refused = await session.call_tool("list_classes", {})
    assert refused.is_error and "X-Ballast-Run-Id must be 1 to 128" in tool_text(refused)
    last = (await site.records())[-1]
    assert (last["rule"], last["outcome"]) == ("input.invalid", "blocked") and len(last["runId"]) < 64
    assert agent_id not in {record.get("agentId") for record in await site.records()}  # before the token
