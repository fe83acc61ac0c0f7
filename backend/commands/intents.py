"""``ballast intents|runs ...``: task-shaped run intents, field policies, run tokens and run replay.

Like ``ballast agents``, each command opens the database named by the
environment and acts through agent_tools' services as the operator (``cli``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from backend.commands.agents import _with_tools, err, out

if TYPE_CHECKING:
    from agent_tools.wiring import AgentTools

intents_app = typer.Typer(help="Run intents: task-shaped slices of an agent's rights; field policies; run tokens.",
                          no_args_is_help=True)
runs_app = typer.Typer(help="Agent runs: replay a run's calls against today's data.", no_args_is_help=True)


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
    except (OSError, json.JSONDecodeError) as error:
        err.print(f"[red]error[/] {what} is not JSON: {error}")
        raise typer.Exit(1) from None
    if not isinstance(value, dict):
        err.print(f"[red]error[/] {what} must be a JSON object")
        raise typer.Exit(1)
    return value


@intents_app.command("define")
def define_intent(spec: Annotated[str, typer.Argument(help="The intent as JSON, or @file.json.")]) -> None:
    """Create or replace an intent (name, tools, classes, fields, rows, maxObjects, sensitive, ttl)."""
    body = _json(spec, "the intent")

    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces import admin_actions as actions

        return (await actions.define_intent(tools, actions.CLI, body)).model_dump(by_alias=True)

    out.print_json(data=_with_tools(act))


@intents_app.command("list")
def list_intents() -> None:
    """Every intent: its tools, classes and object budget."""

    async def act(tools: AgentTools) -> list[dict[str, Any]]:
        return [spec.model_dump(by_alias=True) for spec in await tools.intents.all()]

    table = Table("name", "tools", "classes", "maxObjects", "ttl")
    for spec in _with_tools(act):
        table.add_row(spec["name"], ", ".join(spec["tools"]), ", ".join(spec["classes"]), str(spec["maxObjects"]),
                      str(spec["ttl"]))
    out.print(table)


@intents_app.command("delete")
def delete_intent(name: str) -> None:
    """Remove an intent (run tokens minted for it stop working)."""

    async def act(tools: AgentTools) -> None:
        from agent_tools.faces import admin_actions as actions

        await actions.remove_intent(tools, actions.CLI, name)

    _with_tools(act)
    out.print(f"intent {name} deleted")


@intents_app.command("mint")
def mint(name: str, agent: str,
         param: Annotated[list[str] | None, typer.Option("--param", help="key=value (repeat).")] = None) -> None:
    """A short-lived run token for AGENT bound to intent NAME and its parameters (printed once)."""
    from agent_tools.pipeline.runs import mint_run

    params = dict(item.split("=", 1) for item in param or [] if "=" in item)

    async def act(tools: AgentTools) -> dict[str, Any]:
        return await mint_run(tools, name, agent, params)

    out.print_json(data=_with_tools(act))


@intents_app.command("fields")
def field_policy(class_name: str,
                 untrusted: Annotated[list[str] | None, typer.Option("--untrusted", help="User-written field.")] = None,
                 sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive field.")] = None,
                 ) -> None:
    """Mark CLASS_NAME's fields as user-written (untrusted) and/or sensitive."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces import admin_actions as actions

        policy = await actions.set_fields(tools, actions.CLI, class_name, {"untrusted": untrusted or [],
                                                                           "sensitive": sensitive or []})
        return policy.model_dump()

    out.print_json(data={"className": class_name, **_with_tools(act)})


@runs_app.command("replay")
def replay_run(run_id: str, as_json: bool = typer.Option(False, "--json", help="The full report as JSON.")) -> None:
    """Re-execute RUN_ID's calls dry (reads read-only, writes rolled back) and say where results differ now."""
    from agent_tools.pipeline.runs import replay

    async def act(tools: AgentTools) -> dict[str, Any]:
        return await replay(tools, run_id)

    report = _with_tools(act)
    if as_json:
        out.print_json(data=report)
    else:
        for call in report["calls"]:
            line = f"#{call['seq']} {call['tool']}: {call['status']}"
            for obj in call.get("objects", []):
                line += f"\n    {obj['className']} {obj['objectId']} {obj['change']} ({obj['then']} -> {obj['now']})"
            if call.get("resultChanged"):
                line += "\n    result differs from what the agent saw"
            out.print(line)
        out.print("no differences" if report["same"] else f"{report['different']} call(s) differ")
    if not report["same"]:
        raise typer.Exit(2)
