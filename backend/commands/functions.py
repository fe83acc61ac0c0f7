"""``ballast functions list``: the cloud functions, triggers and jobs an app's cloud code registers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backend.config import Settings

functions_app = typer.Typer(help="Cloud code: what cloud_functions/ registers.", no_args_is_help=True)
out = Console(width=160)


@functions_app.command("list")
def list_functions(
    folder: Annotated[Path | None, typer.Option(
        help="Cloud code folder (default: BALLAST_CLOUD_CODE_DIR or ./cloud_functions).")] = None,
) -> None:
    """Show every function (with its rules), trigger and job."""
    from backend.services.cloud.loader import load_cloud_code

    registry = load_cloud_code(folder or Settings().cloud_code_dir)
    functions = Table("function", "requires", "validated params", "agent callable", "risk", title="Functions")
    for name, spec in sorted(registry.functions.items()):
        requires = ", ".join(word for word, on in (("user", spec.require_user), ("master", spec.require_master)) if on)
        functions.add_row(name, requires or "-", ", ".join(spec.fields) or "-",
                          "yes" if spec.agent_callable else "no", spec.risk)
    triggers = Table("trigger", "class", "handler", title="Triggers")
    for (kind, class_name), handler in sorted(registry.triggers.items()):
        triggers.add_row(kind, class_name, getattr(handler, "__qualname__", repr(handler)))
    jobs = Table("job", title="Jobs")
    for name in sorted(registry.jobs):
        jobs.add_row(name)
    for table in (functions, triggers, jobs):
        out.print(table)
