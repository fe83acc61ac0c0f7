"""``ballast roles create|add-user|add-child|list``: roles and their hierarchy, as an admin."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from backend.commands.users import fail, out, run_with_services
from backend.context import RequestContext

roles_app = typer.Typer(help="Roles: create them, add users and child roles, list them.", no_args_is_help=True)


async def _one(services: Any, class_name: str, key: str, value: str) -> dict[str, Any]:
    from backend.services.data.objects import FindOptions

    found = await services.objects.find(RequestContext.system(), class_name,
                                        FindOptions(where={key: value}, limit=1))
    if not found.results:
        raise typer.BadParameter(f"no {class_name.strip('_').lower()} with {key} {value}")
    return dict(found.results[0])


@roles_app.command("create")
def create(name: str, public_read: bool = typer.Option(True, help="Anyone may read the role (Parse's usual ACL).")
           ) -> None:
    """Create a role (letters, digits, _, - and spaces)."""
    acl = {"*": {"read": True}} if public_read else {}

    async def work(services: Any) -> str:
        saved = await services.objects.create(RequestContext.system(), "_Role", {"name": name, "ACL": acl})
        return str(saved["objectId"])

    try:
        out.print(f"created role [bold]{name}[/] ({run_with_services(work)})")
    except Exception as error:
        fail(error)


@roles_app.command("add-user")
def add_user(role: str, username: str) -> None:
    """Make a user a member of a role."""

    async def work(services: Any) -> None:
        found = await _one(services, "_Role", "name", role)
        user = await _one(services, "_User", "username", username)
        ptr = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
        await services.objects.update(RequestContext.system(), "_Role", found["objectId"],
                                      {"users": {"__op": "AddRelation", "objects": [ptr]}})

    run_with_services(work)
    out.print(f"[bold]{username}[/] is now in role [bold]{role}[/]")


@roles_app.command("add-child")
def add_child(role: str, child: str) -> None:
    """Let the members of ``child`` inherit ``role`` (Parse's role hierarchy)."""

    async def work(services: Any) -> None:
        parent = await _one(services, "_Role", "name", role)
        inner = await _one(services, "_Role", "name", child)
        ptr = {"__type": "Pointer", "className": "_Role", "objectId": inner["objectId"]}
        await services.objects.update(RequestContext.system(), "_Role", parent["objectId"],
                                      {"roles": {"__op": "AddRelation", "objects": [ptr]}})

    run_with_services(work)
    out.print(f"members of [bold]{child}[/] now inherit [bold]{role}[/]")


@roles_app.command("list")
def list_roles() -> None:
    """List roles with their direct members and child roles."""
    from backend.services.data.objects import FindOptions

    async def work(services: Any) -> list[tuple[str, list[str], list[str]]]:
        ctx = RequestContext.system()
        roles = (await services.objects.find(ctx, "_Role", FindOptions(limit=1000, order="name"))).results
        rows = []
        for role in roles:
            owner = {"__type": "Pointer", "className": "_Role", "objectId": role["objectId"]}
            users = await services.objects.find(ctx, "_User", FindOptions(
                where={"$relatedTo": {"object": owner, "key": "users"}}, limit=1000))
            children = await services.objects.find(ctx, "_Role", FindOptions(
                where={"$relatedTo": {"object": owner, "key": "roles"}}, limit=1000))
            rows.append((role["name"], [u.get("username", u["objectId"]) for u in users.results],
                         [c["name"] for c in children.results]))
        return rows

    table = Table("role", "users", "child roles (inherit it)")
    for name, users, children in run_with_services(work):
        table.add_row(name, ", ".join(users), ", ".join(children))
    out.print(table)
