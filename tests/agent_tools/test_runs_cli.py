"""``ballast intents ...`` and ``ballast runs replay`` against a real database (both engines)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from agent_tools.pipeline.call import CallRequest
from agent_tools.pipeline.runs import with_access_token
from agent_tools.wiring import AgentTools
from backend.cli import app
from backend.config import Settings
from backend.context import RequestContext
from tests.agent_tools.test_cli import _env, _in_process

INTENT = {"name": "answer", "tools": ["get_object"], "classes": ["Ticket"], "fields": {"Ticket": ["subject"]},
          "rows": {"Ticket": {"customer": {"$param": "customer"}}}, "maxObjects": 5}


def test_cli_defines_intents_mints_run_tokens_and_replays_runs(settings: Settings) -> None:
    runner, env = CliRunner(), _env(settings)

    async def prepare(tools: AgentTools) -> str:
        await tools.agents.create("helper", [], ["read:*"])
        made = await tools.services.objects.create(RequestContext.system(), "Ticket",
                                                   {"customer": "c1", "subject": "late"})
        return str(made["objectId"])

    ticket = _in_process(settings, prepare)
    defined = runner.invoke(app, ["intents", "define", json.dumps(INTENT)], env=env)
    assert defined.exit_code == 0, defined.output
    assert "answer" in runner.invoke(app, ["intents", "list"], env=env).output
    minted = runner.invoke(app, ["intents", "mint", "answer", "helper", "--param", "customer=c1"], env=env)
    assert minted.exit_code == 0, minted.output
    run = json.loads(minted.output)

    async def call(tools: AgentTools) -> dict[str, Any]:
        request = CallRequest(run["token"], "get_object", "read", {"className": "Ticket", "objectId": ticket})
        return (await tools.gateway.call(await with_access_token(tools, request))).body

    seen = _in_process(settings, call)
    assert seen["runId"] == run["runId"] and seen["result"]["object"]["subject"] == "late"
    same = runner.invoke(app, ["runs", "replay", run["runId"]], env=env)
    assert same.exit_code == 0 and "no differences" in same.output, same.output

    async def change(tools: AgentTools) -> None:
        await tools.services.objects.update(RequestContext.system(), "Ticket", ticket, {"subject": "on its way"})

    _in_process(settings, change)
    differs = runner.invoke(app, ["runs", "replay", run["runId"]], env=env)
    assert differs.exit_code == 2, differs.output
    assert "get_object: different" in differs.output and f"Ticket {ticket} changed" in differs.output
    unknown = runner.invoke(app, ["runs", "replay", "run_nosuchrun"], env=env)
    assert unknown.exit_code == 1 and "No recorded calls for run run_nosuchrun" in unknown.output, unknown.output
