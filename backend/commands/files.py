"""``ballast files orphans [--delete]``: stored files that no object references."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from backend.commands.progress import progress
from backend.config import Settings

files_app = typer.Typer(help="Uploaded files: find (and remove) the ones nothing points at.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@files_app.command("orphans")
def orphans(delete: bool = typer.Option(False, "--delete", help="Delete the orphans instead of listing them.")) -> None:
    """List files no object references (File fields, and files inside Array/Object fields)."""
    from backend.embedded import prepare
    from backend.services.files.orphans import delete_orphans, find_orphans
    from backend.services.wiring import build_services

    async def main() -> list[str]:
        settings, _ = prepare(Settings())
        services = build_services(settings)
        await services.start()
        try:
            act = delete_orphans if delete else find_orphans
            return await act(services.files, services.objects)
        finally:
            await services.stop()

    with progress("deleting orphaned files" if delete else "scanning objects and stored files"):
        names = asyncio.run(main())
    for name in names:
        out.print(name, highlight=False)
    verb = "deleted" if delete else "found"
    err.print(f"{len(names)} orphaned file(s) {verb}.")
