"""``ballast agents connect NAME``: what it prints works as pasted, against a live server (both engines)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from typer.testing import CliRunner

from backend.cli import app
from backend.config import Settings
from tests.agent_tools.test_cli import _env
from tests.agent_tools.test_mcp import Site


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0].strip()


async def test_connect_prints_configs_that_work_as_pasted(site: Site, settings: Settings) -> None:
    agent_id, _ = await site.agent("pasted", ["read:*"])
    env = _env(settings) | {"BALLAST_SERVER_URL": site.parse}
    printed = await asyncio.to_thread(CliRunner().invoke, app, ["agents", "connect", "pasted"], env=env)
    assert printed.exit_code == 0, printed.output
    desktop = json.loads(_section(printed.output, "Desktop and IDE agents (mcpServers JSON)"))["mcpServers"]["ballast"]
    assert desktop["url"] == f"{site.origin}/mcp"
    async with site.mcp(desktop["headers"]["Authorization"].removeprefix("Bearer ")) as session:
        assert "get_object" in {tool.name for tool in (await session.list_tools()).tools}
    snippet = _section(printed.output, "Python (the official mcp SDK, client credentials)")
    ran = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", snippet], capture_output=True, text=True,
                                  timeout=60)
    assert ran.returncode == 0 and "get_object" in ran.stdout, ran.stderr[-2000:]
    assert agent_id in snippet
    inspector = _section(printed.output, "MCP Inspector")
    assert inspector.startswith("npx @modelcontextprotocol/inspector --cli") and f"{site.origin}/mcp" in inspector
    oauth = await asyncio.to_thread(CliRunner().invoke, app, ["agents", "connect", "pasted", "--oauth"], env=env)
    assert oauth.exit_code == 0 and "bal_" not in oauth.output
    assert "headers" not in json.loads(_section(oauth.output, "Desktop and IDE agents (mcpServers JSON)"))[
        "mcpServers"]["ballast"]
