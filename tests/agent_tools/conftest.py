"""Agent gateway fixtures: agents made through the admin API, calls over REST, audit lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import mcp_types as types
import pytest
from fastapi import FastAPI

from agent_tools.wiring import AgentTools
from tests.agent_tools.test_mcp import Site
from tests.support.live import LiveServer

AGENT = "http://127.0.0.1/agent/v1"


def tool_text(result: types.CallToolResult) -> str:
    """The text of an MCP tool result's first block, which the gateway always sends as text."""
    first = result.content[0]
    assert isinstance(first, types.TextContent), first
    return first.text


class Gateway:
    """A REST client for the gateway, as an agent and as an admin."""

    def __init__(self, client: httpx.AsyncClient, master_headers: dict[str, str], tools: AgentTools) -> None:
        self.http = client
        self.admin_headers = master_headers
        self.tools = tools

    async def agent(self, name: str, roles: list[str] | None = None, grants: list[str] | None = None,
                    **more: Any) -> tuple[str, str]:
        """(agent id, token) of a new agent."""
        body = {"name": name, "roles": roles or [], "grants": grants or ["read:*"], **more}
        answer = await self.http.post(f"{AGENT}/admin/agents", json=body, headers=self.admin_headers)
        assert answer.status_code == 201, answer.text
        return answer.json()["agent"]["id"], answer.json()["token"]

    async def call(self, token: str | None, kind: str, tool: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(f"{AGENT}/{kind}/{tool}", json=body if body is not None else {},
                                    headers=sent | (headers or {}))

    async def admin(self, method: str, path: str, **options: Any) -> httpx.Response:
        return await self.http.request(method, f"{AGENT}/admin{path}", headers=self.admin_headers, **options)

    async def records(self, **filters: str) -> list[dict[str, Any]]:
        answer = await self.admin("GET", "/audit", params={**filters, "limit": 1000})
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    async def last_record(self) -> dict[str, Any]:
        found = await self.records()
        assert found, "no audit records"
        return found[-1]

    async def verify(self) -> dict[str, Any]:
        answer = await self.admin("POST", "/audit/verify")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture
async def gateway(app: FastAPI, client: httpx.AsyncClient, master_headers: dict[str, str]) -> Gateway:
    return Gateway(client, master_headers, app.state.agent_tools)


Seed = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def seed(client: httpx.AsyncClient, master_headers: dict[str, str]) -> Seed:
    """Create an object through the plain Parse REST API (master key)."""

    async def create(class_name: str, **fields: Any) -> dict[str, Any]:
        answer = await client.post(f"/classes/{class_name}", json=fields, headers=master_headers)
        assert answer.status_code == 201, answer.text
        return {"objectId": answer.json()["objectId"], **fields}

    return create


@pytest.fixture
async def site(live_server: LiveServer) -> AsyncIterator[Site]:
    """The live server seen from outside, for MCP clients (tests/agent_tools/test_mcp*.py)."""
    site = Site(live_server)
    yield site
    await site.http.aclose()
