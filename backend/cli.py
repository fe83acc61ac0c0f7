"""The ``ballast`` command line."""

from __future__ import annotations

import asyncio
import os
import traceback
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from typer.core import TyperGroup

from backend import logs
from backend.config import Settings
from backend.preflight import Problem, load_settings, run_checks

# idle keep-alive seconds: above what clients and balancers assume (undici 4 s, nginx and ALB 60 s), so a client
# never reuses a connection at the moment the server closes it (uvicorn's 5 s default: "other side closed")
KEEP_ALIVE = 75
WORDS = "ballast.words"  # what follows the command's name, for the configuration check below


class _Commands(TyperGroup):
    """The root group: keeps the words after the command's name, which click reads only after our callback."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        resolved = super().resolve_command(ctx, args)
        ctx.meta[WORDS] = resolved[2]
        return resolved


app = typer.Typer(help="Ballast: a Parse-compatible backend for apps and the agents that work on them.",
                  no_args_is_help=True, add_completion=False, cls=_Commands)
console = Console(stderr=True)


@app.callback()
def configuration(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the traceback behind a configuration problem."),
) -> None:
    """Every command but serve and doctor (which check more, their own way) first checks the configuration
    as ``ballast doctor`` does, the port aside: a bad setting is a line or two naming it, exit 2."""
    words = ctx.meta.get(WORDS, [])
    if ctx.invoked_subcommand in ("serve", "doctor") or not words or "--help" in words:
        return  # serve and doctor check more; a bare group or --help only shows the help
    checked_settings(debug, port=False)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1, or BALLAST_HOST)."),
    port: int = typer.Option(None, help="Port to listen on (default 1337, or PARSE_SERVER_PORT)."),
    workers: int = typer.Option(1, min=1, help="Server processes sharing the port (needs BALLAST_REDIS_URL above 1)."),
    metrics_port: int = typer.Option(None, min=1, max=65535, help="Serve /metrics and the health probes on this "
                                     "port instead of the public one (or BALLAST_METRICS_PORT)."),
    metrics_host: str = typer.Option(None, help="Interface for --metrics-port (default: --host's, or "
                                     "BALLAST_METRICS_HOST)."),
    reload: bool = typer.Option(False, help="Restart when code changes (development; one process)."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback behind a start-up problem."),
) -> None:
    """Run the server. With no environment set: SQLite and files under ./data."""
    from backend import listeners
    from backend.embedded import prepare

    chosen = (("host", host), ("port", port), ("metrics_port", metrics_port), ("metrics_host", metrics_host))
    checked = checked_settings(debug, {key: value for key, value in chosen if value is not None})
    if workers > 1 and not checked.redis_url:
        refuse([Problem("BALLAST_REDIS_URL", "--workers above 1 needs Redis, so that LiveQuery events and rate "
                        "limits reach every process", "set it (e.g. redis://127.0.0.1:6379/0), or run one worker")],
               debug)
    settings, generated = prepare(checked)
    logs.configure(settings.log_level_number)
    if generated:
        _announce_key(settings)
    console.print(f"[bold green]Ballast[/] on {settings.public_url} ({_engine(settings)}"
                  + (f", {workers} workers)" if workers > 1 else ")") + _metrics_where(settings), soft_wrap=True)
    _hand_to_workers(settings, workers)
    # no per-message deflate: LiveQuery fans one event out to many sockets, compressing each copy (as Parse's ws)
    # LiveQuery's protocol: uvicorn's websockets-sansio plus a non-awaiting write for the fan-out (uvicorn_protocol.py)
    # logging is ours (backend/logs.py, set up by each worker's app factory): uvicorn's records propagate to it,
    # at the configured level, and its access log gives way to Ballast's (request id, principal kind)
    listeners.serve(settings, workers, reload, log_config=None, log_level=settings.log_level_number,
                    access_log=False, ws_per_message_deflate=False, timeout_keep_alive=KEEP_ALIVE,
                    http="backend.http_deadlines:DeadlineHttpProtocol",  # deadlines for slow request heads and bodies
                    ws="backend.realtime.uvicorn_protocol:LiveWebSocketProtocol")


def _hand_to_workers(settings: Settings, workers: int) -> None:
    """Each worker builds the app from the environment (backend/asgi.py): this command's choices go there."""
    os.environ["BALLAST_HOST"], os.environ["PARSE_SERVER_PORT"] = settings.host, str(settings.port)
    if settings.metrics_address is not None:
        metrics_host, metrics_port = settings.metrics_address
        os.environ["BALLAST_METRICS_HOST"], os.environ["BALLAST_METRICS_PORT"] = metrics_host, str(metrics_port)
    if workers > 1 and "BALLAST_DATABASE_POOL_SIZE" not in os.environ:  # the same connections in all, not N times
        os.environ["BALLAST_DATABASE_POOL_SIZE"] = str(max(4, settings.database_pool_size // workers))


def _metrics_where(settings: Settings) -> str:
    if settings.metrics_address is None:
        return ""
    host, port = settings.metrics_address
    return f"; /metrics on http://{host}:{port}/metrics"


@app.command()
def doctor(
    port: bool = typer.Option(True, help="Also check that the port is free (off when Ballast is running)."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback behind each problem."),
) -> None:
    """Check the configuration without serving: settings, data folder, database, files, Redis, port."""
    loaded = load_settings()
    if isinstance(loaded, list):
        refuse(loaded, debug)
    outcomes = asyncio.run(run_checks(loaded, port=port))
    for outcome in outcomes:
        mark = "[red]problem[/]" if outcome.problem else "[green]ok[/]     "
        console.print(f"{mark} {outcome.name:<12} {outcome.detail}", highlight=False)
    problems = [outcome.problem for outcome in outcomes if outcome.problem]
    if problems:
        refuse(problems, debug)


def checked_settings(debug: bool, overrides: dict[str, object] | None = None, *, port: bool = True) -> Settings:
    """The settings, checked (data folder, database, files, Redis, port): exit 2 naming each problem."""
    loaded = load_settings()
    if isinstance(loaded, list):
        refuse(loaded, debug)
    settings = loaded.model_copy(update=overrides or {})
    problems = [outcome.problem for outcome in asyncio.run(run_checks(settings, port=port)) if outcome.problem]
    if problems:
        refuse(problems, debug)
    return settings


def refuse(problems: list[Problem], debug: bool) -> NoReturn:
    """Print each problem in a line or two (with its traceback under --debug) and exit 2."""
    for problem in problems:
        if debug and problem.error is not None:
            console.print("".join(traceback.format_exception(problem.error)), highlight=False, markup=False)
        console.print(f"[red]error[/] {escape(problem.lines())}", highlight=False, soft_wrap=True)  # no re-wrapping
    if not debug:
        console.print("[dim](ballast doctor checks the configuration; --debug shows tracebacks)[/]")
    raise typer.Exit(2)


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


from backend.commands.admins import admins_app  # noqa: E402
from backend.commands.agents import agents_app, approvals_app, audit_app  # noqa: E402
from backend.commands.files import files_app  # noqa: E402
from backend.commands.functions import functions_app  # noqa: E402
from backend.commands.intents import intents_app, runs_app  # noqa: E402
from backend.commands.jobs import jobs_app  # noqa: E402
from backend.commands.roles import roles_app  # noqa: E402
from backend.commands.users import users_app  # noqa: E402

app.add_typer(admins_app, name="admins")
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
