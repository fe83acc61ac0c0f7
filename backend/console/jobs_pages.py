"""Jobs: every registered job with its schedules, recent runs with status and progress, run now, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, admin_context, json_object, record, render
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
RUNS = 50
Text = Annotated[str, Form(max_length=10_000)]


def _run(run: dict[str, Any]) -> dict[str, Any]:
    started = run.get("startedAt")
    return {"id": run.get("objectId"), "job": run.get("jobName"), "status": run.get("status") or "",
            "progress": run.get("progress") or "", "source": run.get("source") or "",
            "started": started.get("iso") if isinstance(started, dict) else "",
            "duration": f"{run['durationMs'] / 1000:.1f} s" if isinstance(run.get("durationMs"), int | float) else "",
            "error": run.get("error") or "", "log": run.get("log") or [], "params": run.get("params") or {}}


async def _page(request: Request, site: Console, session: ConsoleSession, template: str = "jobs.html",
                status: int = 200, **notes: Any) -> HTMLResponse:
    ctx = admin_context(request, session)
    listing = await site.jobs.list_jobs(ctx)
    runs = [_run(run) for run in await site.jobs.runs(ctx, limit=RUNS)]
    live = any(run["status"] == "running" for run in runs)
    return render(request, template, session, http_status=status, jobs=listing, runs=runs, live=live, **notes)


@router.get("/jobs")
async def jobs_page(request: Request, site: Site, session: Viewer) -> HTMLResponse:
    return await _page(request, site, session)


@router.get("/jobs/runs")
async def runs_fragment(request: Request, site: Site, session: Viewer) -> HTMLResponse:
    """The runs table alone: the page polls it while a run is running."""
    return await _page(request, site, session, template="_runs.html")


@router.post("/jobs/{name}/run")
async def run_now(request: Request, name: str, site: Site, session: Changer) -> HTMLResponse:
    try:
        run_id = await site.jobs.start(admin_context(request, session), name, {}, source="console")
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, "job.run", target=run_id, job=name)
    return await _page(request, site, session, notice=f"Started {name} (run {run_id}).")


@router.post("/jobs/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str, site: Site, session: Changer) -> HTMLResponse:
    try:
        await site.jobs.cancel(admin_context(request, session), run_id)
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, "job.cancel", target=run_id)
    return await _page(request, site, session, notice=f"Asked run {run_id} to stop.")


@router.post("/jobs/schedules/{schedule_id}/{action}")
async def schedule(request: Request, schedule_id: str, action: str, site: Site, session: Changer) -> HTMLResponse:
    """Pause (disable) or resume (enable) a schedule."""
    if action not in ("pause", "resume"):
        return await _page(request, site, session, status=404, error=f"No action {action!r}.")
    try:
        change = site.jobs.pause if action == "pause" else site.jobs.resume
        await change(admin_context(request, session), schedule_id)
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, f"job.schedule.{action}", target=schedule_id)
    return await _page(request, site, session, notice=f"Schedule {schedule_id}: {action}d.")


@router.post("/jobs/runs/{run_id}/retry")
async def retry(request: Request, run_id: str, site: Site, session: Changer) -> HTMLResponse:
    """Run a finished (failed) run's job again with the same params: a new run, the old one kept as it was."""
    ctx = admin_context(request, session)
    try:
        old = await site.jobs.status(ctx, run_id)
        if old.get("status") == "running":
            return await _page(request, site, session, status=400, error=f"Run {run_id} is still running.")
        new_id = await site.jobs.start(ctx, str(old.get("jobName")), old.get("params") or {}, source="console")
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, "job.retry", target=new_id, retryOf=run_id, job=old.get("jobName"))
    return await _page(request, site, session, notice=f"Retrying {old.get('jobName')} (run {new_id}).")


@router.post("/jobs/schedules/{schedule_id}")
async def edit_schedule(request: Request, schedule_id: str, site: Site, session: Changer, cron: Text = "",
                        interval: Text = "", params: Text = "") -> HTMLResponse:
    """A schedule's timing (a cron line or an interval in seconds) and params; a refusal shows at the form."""
    try:
        body = _timing(cron.strip(), interval.strip()) | {"params": json_object(params, "Params")}
        await site.jobs.update_schedule(admin_context(request, session), schedule_id, body)
    except (ParseError, ValueError) as refused:
        message = refused.message if isinstance(refused, ParseError) else str(refused)
        entered = {"cron": cron, "interval": interval, "params": params}
        return await _page(request, site, session, status=400, invalid={schedule_id: message}, entered=entered)
    await record(site, session, "job.schedule.edit", target=schedule_id, **body)
    return await _page(request, site, session, notice=f"Schedule {schedule_id} saved.")


def _timing(cron: str, interval: str) -> dict[str, Any]:
    if cron and interval:
        raise ValueError("Give a cron line or an interval, not both.")
    if interval:
        if not interval.isdigit() or int(interval) < 1:
            raise ValueError("The interval is a whole number of seconds, at least 1.")
        return {"intervalSeconds": int(interval), "cron": None}
    if cron:
        return {"cron": cron, "intervalSeconds": None}
    raise ValueError("Give a cron line or an interval.")

