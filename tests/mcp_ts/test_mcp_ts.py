"""The official MCP TypeScript SDK client (npm @modelcontextprotocol/sdk, pinned by package-lock.json) against a
live Ballast on both engines, driven through node as the Parse JS SDK tests are (tests/sdk)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.agent_tools.test_mcp import Site
from tests.conftest import MASTER_KEY

HERE = Path(__file__).parent


def node() -> str:
    found = shutil.which("node")
    if found is None or not (HERE / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        raise RuntimeError("node or @modelcontextprotocol/sdk is missing: run infra/test.sh (npm ci in tests/mcp_ts).")
    return found


async def test_the_typescript_sdk_client_signs_in_lists_calls_and_reads_errors(site: Site) -> None:
    order = await site.seed("Order", status="new")
    agent_id, secret = await site.agent("ts-clerk", ["read:*", "update_object", "delete_object", "bulk_update"])
    admin = {"username": "ts-admin", "password": "ts-admin-password-1"}  # consents on the page (never the master key)
    assert (await site.admin("POST", "/admins", json=admin)).status_code in (200, 201)
    env = {**os.environ, "BALLAST_ORIGIN": site.origin, "ORDER_ID": order, "AGENT_ID": agent_id,
           "AGENT_SECRET": secret, "MASTER_KEY": MASTER_KEY, "ADMIN_NAME": admin["username"],
           "ADMIN_PASSWORD": admin["password"]}
    command = [node(), "--test", "--test-force-exit", "--test-reporter=spec", "client.test.mjs"]
    done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    records = await site.records(agentId=agent_id)
    assert [(r["tool"], r["outcome"]) for r in records] == [
        ("get_object", "ok"), ("update_object", "ok"), ("delete_object", "pending"), ("approval_status", "ok"),
        ("get_object", "error"), ("get_object", "blocked"), ("create_object", "blocked"),
        ("drop_database", "blocked")]
    assert len({r["runId"] for r in records}) == 1  # the client's one MCP session is one run
