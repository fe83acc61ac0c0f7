"""``ballast admins create|list|disable|passwd``: console admins, made only here or with the master key.

A console admin signs in to the admin API and the web console; no app user or role can become
one. Passwords are read from a hidden prompt, or from stdin with ``--password-stdin`` (scripts).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from backend.commands.agents import _with_tools, out

if TYPE_CHECKING:
    from agent_tools.stores.admins import Admin
    from agent_tools.wiring import AgentTools

admins_app = typer.Typer(help="Console admins: create, list, disable, change a password.", no_args_is_help=True)
STDIN_HELP = "Read the password from stdin (one line) instead of a prompt."


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _table(admins: list[Admin]) -> Table:
    table = Table("id", "username", "role", "disabled")
    for admin in admins:
        table.add_row(admin.id, admin.username, admin.role, "yes" if admin.disabled else "")
    return table


@admins_app.command("create")
def create_admin(
    username: str,
    role: str = typer.Option("admin", help="admin (may change) or viewer (may look)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
) -> None:
    """Create a console admin."""
    password = _password(password_stdin)

    async def act(tools: AgentTools) -> Admin:
        return await tools.admins.create(username, password, role)

    out.print(_table([_with_tools(act)]))


@admins_app.command("list")
def list_admins() -> None:
    """Every console admin (never their password hashes)."""

    async def act(tools: AgentTools) -> list[Admin]:
        return await tools.admins.all()

    out.print(_table(_with_tools(act)))


@admins_app.command("disable")
def disable_admin(username: str) -> None:
    """Disable an admin: its sessions end at once, on every instance."""

    async def act(tools: AgentTools) -> Admin:
        return await tools.admins.disable(username)

    out.print(f"{_with_tools(act).username} is disabled")


@admins_app.command("passwd")
def change_password(
    username: str, password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
) -> None:
    """Set a new password; the admin's sessions end."""
    password = _password(password_stdin)

    async def act(tools: AgentTools) -> Admin:
        return await tools.admins.set_password(username, password)

    out.print(f"{_with_tools(act).username}'s password is changed; its sessions ended")
