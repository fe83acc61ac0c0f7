"""``ballast agents|approvals|audit ...``: the agent gateway's admin work from the command line.

Each command opens the database named by the environment (as ``ballast
serve`` would) and acts through agent_tools' services as the operator
(``cli``). A new token is printed once and never again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from backend.commands.progress import progress
from backend.config import Settings
from backend.errors import ParseError

if TYPE_CHECKING:
    from agent_tools.wiring import AgentTools

agents_app = typer.Typer(help="Agents: create, list, suspend, resume, tokens, grants, read-only switch.",
                         no_args_is_help=True)
approvals_app = typer.Typer(help="Approvals of risky agent writes: list, show, approve, deny.", no_args_is_help=True)
audit_app = typer.Typer(help="The agent audit trail: query, export as JSON Lines, verify the hash chain.",
                        no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _with_tools(action: Callable[[AgentTools], Awaitable[T]], doing: str = "working") -> T:
    """Open services and agent tools, run ``action``, close; a Parse error ends the command with status 1."""
    from agent_tools.wiring import AgentTools
    from backend.embedded import prepare
    from backend.services.wiring import build_services

    async def main() -> T:
        settings, _ = prepare(Settings())
        services = build_services(settings)
        await services.start()
        try:
            tools = AgentTools(services)
            await tools.ready()
            return await action(tools)
        finally:
            await services.stop()

    try:
        with progress(doing):
            return asyncio.run(main())
    except ParseError as error:
        err.print(f"[red]error[/] {error.message}")
        raise typer.Exit(1) from None


def _agents_table(agents: list[dict[str, Any]]) -> Table:
    table = Table("id", "name", "status", "roles", "grants", "owner")
    for agent in agents:
        table.add_row(agent["id"], agent["name"], agent["status"], ", ".join(agent["roles"]),
                      ", ".join(agent["grants"]), agent.get("owner") or "")
    return table


@agents_app.command("create")
def create_agent(
    name: str,
    role: Annotated[list[str] | None, typer.Option("--role", help="A role the agent holds (repeat for more).")] = None,
    grant: Annotated[list[str] | None, typer.Option("--grant", help="A tool it may call: name, read:*, write:*, *; "
                                                    "default read:*.")] = None,
    owner: str = typer.Option(None, help="Who answers for this agent."),
    days: int = typer.Option(None, help="Token lifetime in days (default: until revoked)."),
) -> None:
    """Register an agent and print its token (shown once)."""

    async def act(tools: AgentTools) -> tuple[Any, str]:
        from agent_tools.faces.admin_actions import CLI, create_agent

        return await create_agent(tools, CLI, name, role or [], grant or ["read:*"], owner, days)

    agent, token = _with_tools(act)
    out.print(_agents_table([agent.to_wire()]))
    out.print(f"token (shown once, store it now): [bold]{token}[/]")


@agents_app.command("list")
def list_agents() -> None:
    """Every agent, its status, roles and grants."""

    async def act(tools: AgentTools) -> list[dict[str, Any]]:
        return [agent.to_wire() for agent in await tools.agents.all()]

    out.print(_agents_table(_with_tools(act)))


def _status(name: str, status: str) -> None:
    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces.admin_actions import CLI, set_status

        return (await set_status(tools, CLI, (await tools.agents.find(name)).id, status)).to_wire()

    agent = _with_tools(act)
    out.print(f"{agent['name']} is {agent['status']}")


@agents_app.command("suspend")
def suspend_agent(name: str) -> None:
    """Stop an agent at once: its next call is refused, mid-run or not."""
    _status(name, "suspended")


@agents_app.command("resume")
def resume_agent(name: str) -> None:
    """Let a suspended agent call tools again."""
    _status(name, "active")


@agents_app.command("rotate")
def rotate_token(name: str,
                 days: int = typer.Option(None, help="The new token's lifetime in days (default: until revoked)."),
                 keep_others: bool = typer.Option(False, help="Leave the agent's other tokens valid.")) -> None:
    """Issue a new token (printed once); the others are revoked unless --keep-others."""

    async def act(tools: AgentTools) -> str:
        from agent_tools.faces.admin_actions import CLI, issue_token

        return await issue_token(tools, CLI, (await tools.agents.find(name)).id, days, revoke_others=not keep_others)

    out.print(f"token (shown once, store it now): [bold]{_with_tools(act)}[/]")


@agents_app.command("connect")
def connect_agent(
    name: str,
    oauth: bool = typer.Option(False, "--oauth", help="No token: the client signs in by OAuth (a person approves)."),
    url: str = typer.Option(None, help="The server's public URL (default: from the environment, as serve uses)."),
) -> None:
    """Print ready set-up for MCP clients: mcpServers JSON, a Python snippet, an Inspector command line."""
    from agent_tools.faces.connect import connect_text
    from agent_tools.stores.oauth_tokens import origin_of

    async def act(tools: AgentTools) -> tuple[str, str | None]:
        agent = await tools.agents.find(name)
        return agent.id, None if oauth else await tools.agents.issue_token(agent.id)

    agent_id, token = _with_tools(act)
    typer.echo(connect_text(origin_of(url or Settings().public_url), agent_id, name, token))


@agents_app.command("revoke")
def revoke_tokens(name: str, token_id: str = typer.Option(None, help="Only this token (default: all).")) -> None:
    """Revoke an agent's tokens."""

    async def act(tools: AgentTools) -> int:
        from agent_tools.faces.admin_actions import CLI, revoke_tokens

        return (await revoke_tokens(tools, CLI, (await tools.agents.find(name)).id, token_id))["revoked"]

    out.print(f"revoked {_with_tools(act)} token(s)")


@agents_app.command("grants")
def set_grants(name: str,
               role: Annotated[list[str] | None, typer.Option("--role", help="A role the agent holds (repeat for "
                                                                    "more; replaces its roles).")] = None,
               grant: Annotated[list[str] | None, typer.Option("--grant", help="A tool it may call: name, read:*, "
                                                                     "write:*, * (repeat; replaces its grants).")]
               = None) -> None:
    """Replace an agent's roles and/or tool grants."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces.admin_actions import CLI, set_grants

        return (await set_grants(tools, CLI, (await tools.agents.find(name)).id, role or None, grant or None)).to_wire()

    out.print(_agents_table([_with_tools(act)]))


@agents_app.command("tools")
def list_tools() -> None:
    """Every name a --grant may use: the wildcards and each tool (built-in and the app's own)."""
    from agent_tools.model.grant_names import grantable

    async def act(tools: AgentTools) -> dict[str, Any]:
        return grantable(tools.registry)

    listed = _with_tools(act)
    table = Table("grant", "kind", "risk", "roles", "description")
    for wildcard in listed["wildcards"]:
        table.add_row(wildcard, "", "", "", "every tool" if wildcard == "*" else f"every {wildcard[:-2]} tool")
    for tool in listed["tools"]:
        table.add_row(tool["name"], tool["kind"], tool["risk"], ", ".join(tool["roles"]), tool["description"])
    out.print(table)


@agents_app.command("read-only")
def read_only(state: str = typer.Argument(..., help="on or off")) -> None:
    """The global switch: with it on, no agent may call a write tool."""
    if state not in ("on", "off"):
        raise typer.BadParameter("say on or off")

    async def act(tools: AgentTools) -> int:
        from agent_tools.faces.admin_actions import CLI, update_policy

        return (await update_policy(tools, CLI, {"readOnly": state == "on"})).version

    out.print(f"agents read-only {state} (policy version {_with_tools(act)})")


@approvals_app.command("list")
def list_approvals(status: str = typer.Option("pending", help="pending, executed, denied, stale, expired, all"),
                   ) -> None:
    """Approvals waiting (or in another status)."""

    async def act(tools: AgentTools) -> list[dict[str, Any]]:
        return await tools.approvals.matching(None if status == "all" else status)

    table = Table("id", "status", "agent", "tool", "objects", "reason", "expires")
    for item in _with_tools(act):
        table.add_row(item["objectId"], item["status"], item.get("agentId", ""), item.get("tool", ""),
                      str((item.get("preview") or {}).get("count", "")), item.get("reason") or "",
                      str(item.get("expiresAt") or ""))
    out.print(table)


@approvals_app.command("show")
def show_approval(approval_id: str) -> None:
    """One approval with its full preview (JSON)."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        return await tools.approvals.get(approval_id)

    out.print_json(json.dumps(_with_tools(act)))


@approvals_app.command("approve")
def approve(approval_id: str) -> None:
    """Run exactly the previewed change, once (refused if the data changed since)."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces.admin_actions import CLI
        from agent_tools.faces.admin_actions import approve as approve_one

        return await approve_one(tools, CLI, approval_id)

    out.print(f"approval {approval_id}: {_with_tools(act)['status']}")


@approvals_app.command("deny")
def deny(approval_id: str, reason: str = typer.Option("", help="Why (kept in the audit).")) -> None:
    """Refuse the change; nothing runs."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        from agent_tools.faces.admin_actions import CLI
        from agent_tools.faces.admin_actions import deny as deny_one

        return await deny_one(tools, CLI, approval_id, reason)

    out.print(f"approval {approval_id}: {_with_tools(act)['status']}")


# the audit trail's filters, shared by query and export
AgentFilter = Annotated[str | None, typer.Option(help="Only this agent's records (its id).")]
RunFilter = Annotated[str | None, typer.Option(help="Only the records of this run id.")]
ToolFilter = Annotated[str | None, typer.Option(help="Only calls of this tool.")]
DecisionFilter = Annotated[str | None, typer.Option(help="Only this policy decision (allow, deny, needs_approval).")]
SinceFilter = Annotated[str | None, typer.Option(help="Only records at or after this time (ISO 8601).")]
UntilFilter = Annotated[str | None, typer.Option(help="Only records before this time (ISO 8601).")]


def _filters(agent: str | None, run: str | None, tool: str | None, decision: str | None,
             since: str | None, until: str | None) -> dict[str, Any]:
    given = {"agentId": agent, "runId": run, "tool": tool, "decision": decision, "since": since, "until": until}
    return {key: value for key, value in given.items() if value}


@audit_app.command("verify")
def verify() -> None:
    """Prove the hash chain: exit status 1 (and the problems) if any record was changed, added or removed."""

    async def act(tools: AgentTools) -> dict[str, Any]:
        return (await tools.audit.verify()).to_wire()

    report = _with_tools(act, "verifying every audit chain")
    if not report["ok"]:
        for problem in report["problems"]:
            err.print(f"[red]{problem}[/]")
        err.print(f"[red]audit chain BROKEN[/] ({report['records']} records)")
        raise typer.Exit(1)
    out.print(f"audit chain intact: {report['records']} records")


@audit_app.command("export")
def export(agent: AgentFilter = None, run: RunFilter = None, tool: ToolFilter = None, decision: DecisionFilter = None,
           since: SinceFilter = None, until: UntilFilter = None,
           output: Annotated[typer.FileTextWrite, typer.Option("--out", help="File (default stdout).")] = "-",  # type: ignore[assignment]
           ) -> None:
    """The records as JSON Lines, oldest first."""

    async def act(tools: AgentTools) -> int:
        lines = 0
        with progress("exporting audit records", "records") as advance:
            async for line in tools.audit.export(_filters(agent, run, tool, decision, since, until)):
                output.write(line)
                lines += 1
                advance(1)
        return lines

    err.print(f"{_with_tools(act, 'opening the audit trail')} records")


@audit_app.command("query")
def query(agent: AgentFilter = None, run: RunFilter = None, tool: ToolFilter = None, decision: DecisionFilter = None,
          since: SinceFilter = None, until: UntilFilter = None,
          limit: int = typer.Option(50, help="At most this many records, newest first.")) -> None:
    """The matching records as a table."""

    async def act(tools: AgentTools) -> list[dict[str, Any]]:
        return await tools.audit.query(_filters(agent, run, tool, decision, since, until), limit)

    table = Table("seq", "time", "agent", "run", "tool", "decision", "rule", "outcome")
    for record in _with_tools(act):
        table.add_row(str(record["seq"]), record["time"], record.get("agentId") or "", record.get("runId") or "",
                      record.get("tool") or "", record.get("decision") or "", record.get("rule") or "",
                      record.get("outcome") or "")
    out.print(table)
