"""Every admin action leaves the same security record whichever face did it: CLI, admin API (console: tests/console)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from agent_tools.wiring import AgentTools
from backend.cli import app
from backend.config import Settings
from backend.context import RequestContext
from backend.services.data.objects import FindOptions
from tests.agent_tools.conftest import Gateway
from tests.agent_tools.test_cli import _env, _in_process

INTENT = {"name": "refunds", "tools": ["list_classes"], "classes": ["Order"]}


def _events(settings: Settings) -> list[tuple[str, str, str, str]]:
    async def read(tools: AgentTools) -> list[dict[str, Any]]:
        options = FindOptions(order="createdAt", limit=100)
        return (await tools.services.objects.find(RequestContext.system(), "_SecurityEvent", options)).results

    return [(row["event"], row["actor"], row.get("target") or "", row["details"].get("via", ""))
            for row in _in_process(settings, read)]


def test_the_cli_records_every_admin_action_naming_the_operator(settings: Settings) -> None:
    runner, env = CliRunner(), _env(settings)
    for command in (["agents", "create", "bot"], ["agents", "suspend", "bot"], ["agents", "resume", "bot"],
                    ["agents", "revoke", "bot"], ["agents", "read-only", "on"],
                    ["intents", "define", '{"name": "refunds", "tools": ["list_classes"], "classes": ["Order"]}'],
                    ["intents", "delete", "refunds"]):
        done = runner.invoke(app, command, env=env)
        assert done.exit_code == 0, (command, done.output)
    events = _events(settings)
    assert [event[0] for event in events] == ["agent.create", "agent.suspend", "agent.resume", "agent.revoke",
                                              "policy.update", "intent.define", "intent.remove"]
    assert {(actor, via) for _, actor, _, via in events} == {("cli", "cli")}
    assert events[-1][2] == "refunds"


async def test_the_admin_api_records_intents_and_field_policies(gateway: Gateway) -> None:
    defined = await gateway.admin("POST", "/intents", json=INTENT)
    assert defined.status_code == 201, defined.text
    fields = await gateway.admin("PUT", "/fields/Order", json={"sensitive": ["card"]})
    assert fields.status_code == 200, fields.text
    assert (await gateway.admin("DELETE", "/intents/refunds")).status_code == 200
    found = await gateway.http.get("/classes/_SecurityEvent", params={"order": "createdAt"},
                                   headers=gateway.admin_headers)
    events = [(row["event"], row["actor"], row["target"]) for row in found.json()["results"]]
    assert events == [("intent.define", "master", "refunds"), ("fields.set", "master", "Order"),
                      ("intent.remove", "master", "refunds")]
