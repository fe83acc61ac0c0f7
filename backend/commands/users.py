"""``ballast users create|list|set-password|delete``: manage app users as an admin (master key)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from backend.config import Settings
from backend.context import RequestContext

users_app = typer.Typer(help="App users: create, list, reset a password, delete.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def run_with_services(work: Callable[[Any], Awaitable[T]]) -> T:
    """Start the services from the environment (as ``serve`` would), run ``work``, stop them."""
    from backend.embedded import prepare
    from backend.services.wiring import build_services

    async def main() -> T:
        settings, _ = prepare(Settings())
        services = build_services(settings)
        await services.start()
        try:
            return await work(services)
        finally:
            await services.stop()

    return asyncio.run(main())


def fail(error: Exception) -> None:
    from backend.errors import ParseError

    if isinstance(error, ParseError):
        err.print(f"[red]error {int(error.code)}:[/] {error.message}")
        raise typer.Exit(1) from error
    raise error


@users_app.command("create")
def create(username: str, password: str = typer.Option(..., prompt=True, hide_input=True,
                                                      help="The password (asked for when not given)."),
           email: str = typer.Option(None, help="The user's email address.")) -> None:
    """Create a user (the password policy applies)."""
    body: dict[str, Any] = {"username": username, "password": password} | ({"email": email} if email else {})

    async def work(services: Any) -> str:
        saved = await services.objects.create(RequestContext.system(), "_User", body)
        return str(saved["objectId"])

    try:
        out.print(f"created user [bold]{username}[/] ({run_with_services(work)})")
    except Exception as error:
        fail(error)


@users_app.command("list")
def list_users(limit: int = typer.Option(100, help="At most this many users.")) -> None:
    """List users: id, username, email, verified, created."""
    from backend.services.data.objects import FindOptions

    async def work(services: Any) -> list[dict[str, Any]]:
        found = await services.objects.find(RequestContext.system(), "_User", FindOptions(limit=limit,
                                                                                         order="createdAt"))
        return list(found.results)

    table = Table("objectId", "username", "email", "verified", "createdAt")
    for user in run_with_services(work):
        table.add_row(user["objectId"], user.get("username", ""), user.get("email", ""),
                      str(user.get("emailVerified", "")), user["createdAt"])
    out.print(table)


@users_app.command("set-password")
def set_password(username: str, password: str = typer.Option(..., prompt=True, hide_input=True,
                                                              confirmation_prompt=True,
                                                              help="The new password (asked for twice when not "
                                                                   "given).")) -> None:
    """Set a user's password; every session of the user ends."""
    from backend.services.data.objects import FindOptions

    async def work(services: Any) -> None:
        ctx = RequestContext.system()
        found = await services.objects.find(ctx, "_User", FindOptions(where={"username": username}, limit=1))
        if not found.results:
            raise typer.BadParameter(f"no user named {username}")
        await services.objects.update(ctx, "_User", found.results[0]["objectId"], {"password": password})

    try:
        run_with_services(work)
    except Exception as error:
        fail(error)
    out.print(f"password of [bold]{username}[/] changed; its sessions are revoked")


@users_app.command("delete")
def delete(username: str) -> None:
    """Delete a user and its sessions."""
    from backend.services.data.objects import FindOptions

    async def work(services: Any) -> None:
        ctx = RequestContext.system()
        found = await services.objects.find(ctx, "_User", FindOptions(where={"username": username}, limit=1))
        if not found.results:
            raise typer.BadParameter(f"no user named {username}")
        await services.objects.delete(ctx, "_User", found.results[0]["objectId"])

    run_with_services(work)
    out.print(f"deleted user [bold]{username}[/]")
