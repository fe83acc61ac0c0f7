"""Smoke test of the MCP face against ``ballast serve`` in a process of its own (the official MCP client)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from tests.agent_tools.test_mcp import Site
from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import ballast_serve
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """What test_mcp's Site needs of a server: its /parse URL."""

    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/parse"
    env = {**os.environ, "PARSE_SERVER_APPLICATION_ID": APP_ID, "PARSE_SERVER_MASTER_KEY": MASTER_KEY,
           "BALLAST_DATA_DIR": str(settings.data_dir), "PARSE_SERVER_URL": url, "BALLAST_JOBS_ENABLED": "false"}
    if settings.database_uri:
        env["PARSE_SERVER_DATABASE_URI"] = settings.database_uri
    with ballast_serve(["--port", str(port)], env, url, cwd=ROOT):
        yield Served(url)


async def test_mcp_against_ballast_serve_in_its_own_process(served: Served) -> None:
    site = Site(served)
    try:
        refused = await site.http.post(f"{site.origin}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401 and "resource_metadata=" in refused.headers["www-authenticate"]
        order = await site.seed("Order", status="new")
        agent_id, secret = await site.agent("process-clerk", ["read:*", "write:*"])
        token = await site.access_token(agent_id, secret)
        async with site.mcp(token) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert {"get_object", "update_object", "delete_object"} <= names
            got = await session.call_tool("get_object", {"className": "Order", "objectId": order})
            assert got.structured_content is not None and got.structured_content["result"]["object"]["status"] == "new"
            wrote = await session.call_tool("update_object", {"className": "Order", "objectId": order,
                                                              "fields": {"status": "paid"}})
            assert not wrote.is_error
        assert [r["tool"] for r in await site.records(agentId=agent_id)] == ["get_object", "update_object"]
    finally:
        await site.http.aclose()
