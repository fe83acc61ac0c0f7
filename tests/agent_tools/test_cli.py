"""``ballast agents|approvals|audit`` against a real database (both engines)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from typer.testing import CliRunner

from agent_tools.pipeline.call import CallRequest
from agent_tools.stores.classes import TOOL_CALL
from agent_tools.wiring import AgentTools
from backend.cli import app
from backend.config import Settings
from backend.services.wiring import build_services
from tests.conftest import APP_ID, MASTER_KEY


def _env(settings: Settings) -> dict[str, str]:
    env = {"PARSE_SERVER_APPLICATION_ID": APP_ID, "PARSE_SERVER_MASTER_KEY": MASTER_KEY,
           "BALLAST_DATA_DIR": str(settings.data_dir), "BALLAST_JOBS_ENABLED": "false"}
    if settings.database_uri:
        env["PARSE_SERVER_DATABASE_URI"] = settings.database_uri
    return env


def _in_process(settings: Settings, action: Callable[[AgentTools], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        services = build_services(settings)
        await services.start()
        try:
            tools = AgentTools(services)
            await tools.ready()
            return await action(tools)
        finally:
            await services.stop()

    return asyncio.run(main())


def test_cli_creates_agents_and_verifies_the_audit_chain(settings: Settings) -> None:
    runner = CliRunner()
    env = _env(settings)
    created = runner.invoke(app, ["agents", "create", "support-bot", "--role", "support-reader"], env=env)
    assert created.exit_code == 0, created.output
    token = re.search(r"bal_[A-Za-z0-9_-]+", created.output)
    assert token is not None
    listed = runner.invoke(app, ["agents", "list"], env=env)
    assert "support-bot" in listed.output and "support-reader" in listed.output

    async def call(tools: AgentTools) -> int:
        result = await tools.gateway.call(CallRequest(token.group(0), "list_classes", "read", {}))
        return result.status

    assert _in_process(settings, call) == 200
    intact = runner.invoke(app, ["audit", "verify"], env=env)
    assert intact.exit_code == 0 and "1 records" in intact.output, intact.output

    async def tamper(tools: AgentTools) -> None:
        record = (await tools.records.find(TOOL_CALL))[0]
        await tools.records.update(TOOL_CALL, record["objectId"], {"body": record["body"].replace("allow", "deny")})

    _in_process(settings, tamper)
    broken = runner.invoke(app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and "tampered" in broken.output, broken.output

    suspended = runner.invoke(app, ["agents", "suspend", "support-bot"], env=env)
    assert suspended.exit_code == 0 and "suspended" in suspended.output
    assert _in_process(settings, call) == 403
    pending = runner.invoke(app, ["approvals", "list"], env=env)
    assert pending.exit_code == 0
