"""``ballast jobs list|runs|show|run|cancel|pause|resume``: jobs from the command line.

Each command opens the database named by the environment (as ``ballast
serve`` would), acts as master through JobService, and prints a rich table.
``run`` runs the job in this process and waits for it; ``cancel`` of a run on
a server is picked up by that server at its next heartbeat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from backend.commands.progress import progress
from backend.config import Settings
from backend.context import RequestContext
from backend.errors import ParseError

jobs_app = typer.Typer(help="Scheduled and background jobs: what is scheduled, running, and what ran.",
                       no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _with_jobs(action: Callable[[Any, RequestContext], Awaitable[T]], doing: str = "reading job runs") -> T:
    """Open services and jobs (no scheduler), run ``action(jobs, master)``, close; Parse errors end the command."""
    from backend.embedded import prepare
    from backend.services.wiring import build_services
    from jobs.wiring import build_jobs

    async def main() -> T:
        settings, _ = prepare(Settings())
        services = build_services(settings)
        await services.start()
        jobs = build_jobs(services, with_builtin_schedules=False)
        try:
            return await action(jobs, RequestContext.system())
        finally:
            await jobs.close()
            await services.stop()

    try:
        with progress(doing):
            return asyncio.run(main())
    except ParseError as error:
        err.print(f"[red]error {int(error.code)}:[/] {error.message}")
        raise typer.Exit(1) from error


def _date(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("iso")
    return str(value or "")[:19].replace("T", " ")


@jobs_app.command("list")
def list_jobs() -> None:
    """Registered jobs, their schedules and next fire times, and how many runs are running."""
    listing = _with_jobs(lambda jobs, ctx: jobs.list_jobs(ctx))
    table = Table("job", "schedule", "rule", "next fire", "state", "running")
    for job in listing:
        rows = job["schedules"] or [{}]
        for schedule in rows:
            state = "paused" if schedule.get("paused") else schedule.get("problem", "active" if schedule else "")
            table.add_row(job["name"], schedule.get("objectId", "-"), _rule(schedule),
                          _date(schedule.get("nextFire")), state, str(job["running"]))
    out.print(table)


def _rule(schedule: dict[str, Any]) -> str:
    if schedule.get("cron"):
        return f"cron {schedule['cron']} {schedule.get('timeZone', 'UTC')}"
    if schedule.get("repeatMinutes"):
        return f"every {schedule['repeatMinutes']:g} min"
    if schedule.get("intervalSeconds"):
        return f"every {schedule['intervalSeconds']:g} s"
    if schedule.get("timeOfDay"):
        return f"daily at {schedule['timeOfDay']}"
    return f"once at {schedule['startAfter']}" if schedule.get("startAfter") else ""


@jobs_app.command("runs")
def list_runs(
    job: str = typer.Option(None, help="Only runs of this job."),
    status: str = typer.Option(None, help="Only runs with this status (running, succeeded, failed, ...)."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many of the newest runs."),
) -> None:
    """Run history, newest first."""
    runs = _with_jobs(lambda jobs, ctx: jobs.runs(ctx, job, status, limit))
    table = Table("run", "job", "source", "status", "started", "duration", "attempts", "message")
    for run in runs:
        duration = f"{run['durationMs'] / 1000:.2f}s" if run.get("durationMs") is not None else ""
        table.add_row(run["objectId"], run.get("jobName", ""), run.get("source", ""), run.get("status", ""),
                      _date(run.get("startedAt") or run.get("createdAt")), duration, str(run.get("attempts", "")),
                      str(run.get("message") or run.get("error") or "")[:60])
    out.print(table)


@jobs_app.command("show")
def show_run(run_id: str) -> None:
    """Everything about one run: status, times, attempts, progress, error, log lines."""
    run = _with_jobs(lambda jobs, ctx: jobs.status(ctx, run_id))
    _print_run(run)


def _print_run(run: dict[str, Any]) -> None:
    table = Table("field", "value", show_header=False)
    for key in ("objectId", "jobName", "source", "status", "scheduleId", "scheduledAt", "startedAt", "finishedAt",
                "durationMs", "attempts", "maxAttempts", "progress", "message", "error", "instance", "params"):
        if run.get(key) is not None:
            value = run[key]
            table.add_row(key, _date(value) if key.endswith("At") else json.dumps(value, default=str).strip('"'))
    out.print(table)
    for line in run.get("log") or []:
        out.print(f"  {line}", highlight=False)


@jobs_app.command("run")
def run_job(name: str, params: str = typer.Option("{}", help="The job's params, a JSON object.")) -> None:
    """Run a job now in this process, wait for it, and show the result."""
    try:
        decoded = json.loads(params)
    except ValueError as error:
        err.print("[red]--params must be a JSON object[/]")
        raise typer.Exit(2) from error

    async def action(jobs: Any, ctx: RequestContext) -> dict[str, Any]:
        run_id = await jobs.start(ctx, name, decoded, source="cli")
        result: dict[str, Any] = await jobs.wait(run_id)
        return result

    run = _with_jobs(action, "running the job")
    _print_run(run)
    if run.get("status") != "succeeded":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def cancel_run(run_id: str) -> None:
    """Ask a running job to stop (wherever it runs)."""
    run = _with_jobs(lambda jobs, ctx: jobs.cancel(ctx, run_id))
    out.print(f"run {run_id}: {run.get('status')}" + (" (cancel requested)" if run.get("cancelRequested") else ""))


@jobs_app.command("pause")
def pause_schedule(schedule_id: str) -> None:
    """Stop a schedule from firing until resumed."""
    _with_jobs(lambda jobs, ctx: jobs.pause(ctx, schedule_id))
    out.print(f"schedule {schedule_id} paused")


@jobs_app.command("resume")
def resume_schedule(schedule_id: str) -> None:
    """Let a paused schedule fire again (from now on; what it missed while paused is skipped)."""
    _with_jobs(lambda jobs, ctx: jobs.resume(ctx, schedule_id))
    out.print(f"schedule {schedule_id} resumed")
