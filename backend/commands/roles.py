"""``ballast roles create|add-user|add-child|list``: roles and their hierarchy, as an admin."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from backend.commands.users import fail, out, run_with_services
from backend.context import RequestContext

roles_app = typer.Typer(help="Roles: create them, add users and child roles, list them.", no_args_is_help=True)


@roles_app.command("create")
def create(name: str, public_read: bool = typer.Option(True, help="Anyone may read the role (Parse's usual ACL).")
           ) -> None:
    """Create a role (letters, digits, _, - and spaces)."""
    from backend.services.identity import directory

    async def work(services: Any) -> str:
        return await directory.create_role(services.objects, RequestContext.system(), name, public_read)

    try:
        out.print(f"created role [bold]{name}[/] ({run_with_services(work)})")
    except Exception as error:
        fail(error)


@roles_app.command("add-user")
def add_user(role: str, username: str) -> None:
    """Make a user a member of a role."""

    from backend.services.identity import directory

    async def work(services: Any) -> None:
        await directory.change_members(services.objects, RequestContext.system(), role, "users", username, True)

    run_with_services(work)
    out.print(f"[bold]{username}[/] is now in role [bold]{role}[/]")


@roles_app.command("add-child")
def add_child(role: str, child: str) -> None:
    """Let the members of ``child`` inherit ``role`` (Parse's role hierarchy)."""

    from backend.services.identity import directory

    async def work(services: Any) -> None:
        await directory.change_members(services.objects, RequestContext.system(), role, "roles", child, True)

    run_with_services(work)
    out.print(f"members of [bold]{child}[/] now inherit [bold]{role}[/]")


@roles_app.command("list")
def list_roles() -> None:
    """List roles with their direct members and child roles."""
    from backend.services.identity import directory

    async def work(services: Any) -> list[directory.RoleView]:
        return await directory.roles(services.objects, RequestContext.system(), limit=1000)

    table = Table("role", "users", "child roles (inherit it)")
    for role in run_with_services(work):
        table.add_row(role.name, ", ".join(user["username"] for user in role.users),
                      ", ".join(child["name"] for child in role.children))
    out.print(table)
