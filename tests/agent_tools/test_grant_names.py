"""Grants name something real: the admin API, the CLI, the console and the consent page refuse a grant that
would grant nothing, name it, and say where the valid ones are listed (both engines)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.config import Settings
from tests.agent_tools.conftest import Gateway
from tests.agent_tools.test_cli import _env
from tests.conftest import SAMPLE_CLOUD_CODE
from tests.console.test_pages import MASTER, PASSWORD
from tests.console.test_pages import web as web  # noqa: F401 - the console client fixture

WHERE = "GET /agent/v1/admin/tools"


async def _names(gateway: Gateway) -> list[str]:
    return [agent["name"] for agent in (await gateway.admin("GET", "/agents")).json()["results"]]


async def test_the_admin_api_refuses_grants_that_grant_nothing(gateway: Gateway) -> None:
    typo = await gateway.admin("POST", "/agents", json={"name": "typo", "grants": ["write:Order"]})
    assert typo.status_code == 400 and typo.json()["code"] == 162, typo.text
    assert "'write:Order' (did you mean write:*?)" in typo.json()["error"] and WHERE in typo.json()["error"]
    several = await gateway.admin("POST", "/agents", json={"name": "typo", "grants": [
        "get_objekt", "", "READ:*", "*", "x" * 10_000]})
    error = several.json()["error"]
    assert several.status_code == 400 and all(bad in error for bad in ("'get_objekt'", "''", "'READ:*'"))
    assert "get_object" in error and len(error) < 1000  # a near miss offered; a hostile name is not echoed whole
    assert "typo" not in await _names(gateway)

    agent_id, _ = await gateway.agent("fine", grants=["greet_customer", "write:*", "get_object", "get_object"])
    shown = await gateway.admin("GET", f"/agents/{agent_id}")
    assert shown.json()["grants"] == ["get_object", "greet_customer", "write:*"]  # the app's own tool is known
    regrant = await gateway.admin("PUT", f"/agents/{agent_id}/grants", json={"grants": ["bulk_updat"]})
    assert regrant.status_code == 400 and "did you mean bulk_update?" in regrant.json()["error"]
    assert (await gateway.admin("GET", f"/agents/{agent_id}")).json()["grants"] == shown.json()["grants"]


async def test_the_admin_api_lists_every_grantable_name(gateway: Gateway, client: httpx.AsyncClient) -> None:
    listed = await gateway.admin("GET", "/tools")
    assert listed.status_code == 200 and listed.json()["wildcards"] == ["*", "read:*", "write:*"]
    tools = {tool["name"]: tool for tool in listed.json()["tools"]}
    assert tools["greet_customer"]["kind"] == "read" and tools["delete_object"]["kind"] == "write"
    _, token = await gateway.agent("nosy")
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        refused = await client.get("http://127.0.0.1/agent/v1/admin/tools", headers=headers)
        assert refused.status_code in (401, 403), refused.text


def test_the_cli_refuses_unknown_grants_and_lists_the_valid_ones(settings: Settings) -> None:
    runner, env = CliRunner(), _env(settings) | {"PARSE_SERVER_CLOUD": str(SAMPLE_CLOUD_CODE)}
    refused = runner.invoke(cli, ["agents", "create", "typo-bot", "--grant", "write:Order"], env=env)
    assert refused.exit_code == 1 and "write:Order" in refused.output and "ballast agents tools" in refused.output
    assert "typo-bot" not in runner.invoke(cli, ["agents", "list"], env=env).output
    made = runner.invoke(cli, ["agents", "create", "app-bot", "--grant", "greet_customer"], env=env)
    assert made.exit_code == 0, made.output
    regrant = runner.invoke(cli, ["agents", "grants", "app-bot", "--grant", "greet-customer"], env=env)
    assert regrant.exit_code == 1 and "did you mean greet_customer?" in regrant.output
    assert "greet_customer" in runner.invoke(cli, ["agents", "list"], env=env).output
    listed = runner.invoke(cli, ["agents", "tools"], env=env)
    assert listed.exit_code == 0 and all(name in listed.output for name in ("write:*", "get_object",
                                                                            "greet_customer"))


async def test_the_console_refuses_unknown_grants(web: httpx.AsyncClient, app: FastAPI) -> None:  # noqa: F811
    await web.post("/console/signin", data={"name": "alice", "secret": PASSWORD})
    page = await web.get("/console/agents")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    refused = await web.post("/console/agents", data={"csrf": csrf, "name": "typo", "grants": "read:* write:Order"})
    assert refused.status_code == 400 and "write:Order" in refused.text and "ballast agents tools" in refused.text
    made = await web.post("/agent/v1/admin/agents", headers=MASTER, json={"name": "kept", "grants": ["get_object"]})
    agent_id = made.json()["agent"]["id"]
    regrant = await web.post(f"/console/agents/{agent_id}/grants", data={"csrf": csrf, "grants": "get_objects"})
    assert regrant.status_code == 400 and "did you mean get_object?" in regrant.text
    agents = (await web.get("/agent/v1/admin/agents", headers=MASTER)).json()["results"]
    assert [(agent["name"], agent["grants"]) for agent in agents] == [("kept", ["get_object"])]
