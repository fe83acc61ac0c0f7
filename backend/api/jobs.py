"""Jobs over HTTP: Parse's ``POST /jobs/{name}`` and ``/cloud_code/jobs`` schedule routes, plus Ballast's admin views.

Parse's shapes, so the Parse Dashboard's job screens work unchanged:
``POST /jobs/{name}`` answers ``{}`` with ``X-Parse-Job-Status-Id``;
``GET /cloud_code/jobs`` lists ``_JobSchedule``; ``GET /cloud_code/jobs/data``
answers ``{"jobs": [...], "in_use": [...]}``; POST/PUT/DELETE take
``{"job_schedule": {...}}``. Ballast adds (master key): ``GET /jobs`` (jobs with
schedules and next fire times), ``GET /jobs/runs``, ``GET /jobs/runs/{id}``,
``POST /jobs/runs/{id}/cancel``, ``POST /cloud_code/jobs/{id}/pause|resume``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from backend.api.responses import ParseJSON
from backend.deps import Body, MasterCtx
from backend.errors import InvalidJSON
from jobs.service import JobService

router = APIRouter(tags=["jobs"])
BUILTIN_PREFIX = "ballast."
EXPOSED = "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id"


def _jobs(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


Jobs = Annotated[JobService, Depends(_jobs)]


def _schedule_body(body: dict[str, Any]) -> Any:
    if "job_schedule" not in body:
        raise InvalidJSON("The body must be {\"job_schedule\": {...}}.")
    return body["job_schedule"]


@router.post("/jobs")
async def start_named_job(body: Body, request: Request, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    params = {key: value for key, value in body.items() if key != "jobName"}
    return await _start(str(body.get("jobName") or ""), params, request, ctx, jobs)


@router.post("/jobs/{name}")
async def start_job(name: str, body: Body, request: Request, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return await _start(name, body, request, ctx, jobs)


async def _start(name: str, body: dict[str, Any], request: Request, ctx: MasterCtx, jobs: JobService) -> ParseJSON:
    params = {**body, **request.query_params}  # as Parse: body and query string together
    run_id = await jobs.start(ctx, name, params)
    # the JS SDK reads only headers named in Access-Control-Expose-Headers, CORS request or not (as
    # parse-server sends it on every response)
    return ParseJSON({}, headers={"X-Parse-Job-Status-Id": run_id, "Access-Control-Expose-Headers": EXPOSED})


@router.get("/jobs")
async def list_jobs(ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON({"results": await jobs.list_jobs(ctx)})


@router.get("/jobs/runs")
async def list_runs(ctx: MasterCtx, jobs: Jobs, job_name: Annotated[str | None, Query(alias="jobName")] = None,
                    status: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> ParseJSON:
    return ParseJSON({"results": await jobs.runs(ctx, job_name, status, limit)})


@router.get("/jobs/runs/{run_id}")
async def show_run(run_id: str, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.status(ctx, run_id))


@router.post("/jobs/runs/{run_id}/cancel")
async def cancel_run(run_id: str, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.cancel(ctx, run_id))


@router.get("/cloud_code/jobs")
async def list_schedules(ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.schedules(ctx))


@router.get("/cloud_code/jobs/data")
async def jobs_data(ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    schedules = await jobs.schedules(ctx)
    # the app's jobs only, as Parse lists them: Ballast's built-ins (``ballast.*``) schedule themselves
    app_jobs = [name for name in jobs.job_names() if not name.startswith(BUILTIN_PREFIX)]
    return ParseJSON({"in_use": [s.get("jobName") for s in schedules], "jobs": app_jobs})


@router.post("/cloud_code/jobs")
async def create_schedule(body: Body, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.create_schedule(ctx, _schedule_body(body)), status_code=201)


@router.put("/cloud_code/jobs/{schedule_id}")
async def edit_schedule(schedule_id: str, body: Body, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON({"response": await jobs.update_schedule(ctx, schedule_id, _schedule_body(body))})


@router.delete("/cloud_code/jobs/{schedule_id}")
async def delete_schedule(schedule_id: str, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    await jobs.delete_schedule(ctx, schedule_id)
    return ParseJSON({})


@router.post("/cloud_code/jobs/{schedule_id}/pause")
async def pause_schedule(schedule_id: str, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.pause(ctx, schedule_id))


@router.post("/cloud_code/jobs/{schedule_id}/resume")
async def resume_schedule(schedule_id: str, ctx: MasterCtx, jobs: Jobs) -> ParseJSON:
    return ParseJSON(await jobs.resume(ctx, schedule_id))
