"""The ``ballast`` command line."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.panel import Panel

from backend.config import Settings

# idle keep-alive seconds: above what clients and balancers assume (undici 4 s, nginx and ALB 60 s), so a client
# never reuses a connection at the moment the server closes it (uvicorn's 5 s default: "other side closed")
KEEP_ALIVE = 75
app = typer.Typer(help="Ballast: a Parse-compatible backend for apps and the agents that work on them.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1, or BALLAST_HOST)."),
    port: int = typer.Option(None, help="Port to listen on (default 1337, or PARSE_SERVER_PORT)."),
    workers: int = typer.Option(1, min=1, help="Server processes sharing the port (needs BALLAST_REDIS_URL above 1)."),
    reload: bool = typer.Option(False, help="Restart when code changes (development; one process)."),
) -> None:
    """Run the server. With no environment set: SQLite and files under ./data."""
    import uvicorn

    from backend.embedded import prepare

    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings, generated = prepare(Settings().model_copy(update=overrides))
    if workers > 1 and not settings.redis_url:
        console.print("[red]--workers above 1 needs Redis[/], so that LiveQuery events and rate limits reach every "
                      "process: set BALLAST_REDIS_URL (e.g. redis://127.0.0.1:6379/0), or run one worker.")
        raise typer.Exit(2)
    if generated:
        _announce_key(settings)
    console.print(f"[bold green]Ballast[/] on {settings.public_url} ({_engine(settings)}"
                  + (f", {workers} workers)" if workers > 1 else ")"))
    # each worker builds the app from the environment (backend/asgi.py): hand it this command's choices
    os.environ["BALLAST_HOST"], os.environ["PARSE_SERVER_PORT"] = settings.host, str(settings.port)
    if workers > 1 and "BALLAST_DATABASE_POOL_SIZE" not in os.environ:  # the same connections in all, not N times
        os.environ["BALLAST_DATABASE_POOL_SIZE"] = str(max(4, settings.database_pool_size // workers))
    # no per-message deflate: LiveQuery fans one event out to many sockets, compressing each copy (as Parse's ws)
    # LiveQuery's protocol: uvicorn's websockets-sansio plus a non-awaiting write for the fan-out (uvicorn_protocol.py)
    uvicorn.run("backend.asgi:app", factory=True, host=settings.host, port=settings.port, workers=workers,
                reload=reload, log_level="warning", ws_per_message_deflate=False, timeout_keep_alive=KEEP_ALIVE,
                ws="backend.realtime.uvicorn_protocol:LiveWebSocketProtocol")


def _engine(settings: Settings) -> str:
    return "PostgreSQL" if settings.database_uri else f"SQLite at {settings.sqlite_path}"


def _announce_key(settings: Settings) -> None:
    snippet = (
        "import Parse from 'parse/node';\n"
        f"Parse.initialize('{settings.application_id}');\n"
        f"Parse.serverURL = '{settings.public_url}';"
    )
    console.print(Panel.fit(
        f"Master key (shown once; kept in {settings.data_dir / 'master.key'}):\n[bold]{settings.master_key}[/]\n\n"
        f"Use it from the JS SDK:\n{snippet}",
        title="First start", border_style="yellow",
    ))


from backend.commands.agents import agents_app, approvals_app, audit_app  # noqa: E402
from backend.commands.files import files_app  # noqa: E402
from backend.commands.functions import functions_app  # noqa: E402
from backend.commands.intents import intents_app, runs_app  # noqa: E402
from backend.commands.jobs import jobs_app  # noqa: E402
from backend.commands.roles import roles_app  # noqa: E402
from backend.commands.users import users_app  # noqa: E402

app.add_typer(agents_app, name="agents")
app.add_typer(approvals_app, name="approvals")
app.add_typer(audit_app, name="audit")
app.add_typer(files_app, name="files")
app.add_typer(functions_app, name="functions")
app.add_typer(jobs_app, name="jobs")
app.add_typer(intents_app, name="intents")
app.add_typer(runs_app, name="runs")
app.add_typer(users_app, name="users")
app.add_typer(roles_app, name="roles")


def main() -> None:
    app()
