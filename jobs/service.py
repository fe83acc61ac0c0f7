"""JobService: what every face (HTTP, CLI, agent tools) asks of jobs.

Start a job (as the caller's Principal), see its status and history, cancel
it; list, create, edit, pause and resume schedules. Scheduling and running
happen in ``jobs.scheduler`` / ``jobs.runner``; this module checks who may
ask and validates what they ask.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from backend.context import PrincipalKind, RequestContext
from backend.errors import (
    InvalidKeyName,
    InvalidValue,
    MasterKeyRequired,
    ObjectNotFound,
    OperationForbidden,
    ScriptFailed,
)
from jobs.leases import principal_record
from jobs.records import FINAL, JobRecords, date
from jobs.runner import Runner, RunPlan
from jobs.scheduler import Scheduler
from jobs.specs import check_schedule

SCHEDULE_KEYS = frozenset({
    "jobName", "description", "params", "startAfter", "daysOfWeek", "timeOfDay", "lastRun", "repeatMinutes",
    "cron", "intervalSeconds", "timeZone", "endAt", "retries", "retryBackoff", "timeout", "maxConcurrency",
    "misfirePolicy", "misfireGraceSeconds", "paused",
})


class JobService:
    def __init__(self, records: JobRecords, runner: Runner, scheduler: Scheduler, *, enabled: bool = True) -> None:
        self.records = records
        self.runner = runner
        self.scheduler = scheduler
        self.clock = runner.clock
        self.enabled = enabled
        self._launched: dict[str, asyncio.Task[str]] = {}

    async def open(self) -> None:
        """Start this instance's scheduler (when jobs are enabled)."""
        if self.enabled:
            self.scheduler.start()

    async def close(self) -> None:
        """Stop the scheduler and the runs here; their leases lapse and another instance settles them."""
        await self.scheduler.stop()
        await self.runner.stop()

    def job_names(self) -> list[str]:
        return sorted(self.runner.registry.jobs)

    # --- runs --------------------------------------------------------------------------

    async def start(self, ctx: RequestContext, name: str, params: Mapping[str, Any] | None = None, *,
                    source: str = "api") -> str:
        """Start job ``name`` now, as the caller; returns the run's id (Parse's job status id)."""
        _require_runner(ctx)
        if name not in self.runner.registry.jobs:
            raise ScriptFailed("Invalid job.")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidValue("params must be a JSON object.")
        now = self.clock.now()
        if ctx.principal.kind == PrincipalKind.AGENT:
            source = "agent"
        fields = {
            "jobName": name, "source": source, "status": "running", "params": dict(params or {}),
            "startedAt": date(now), "attempts": 1, "maxAttempts": 1, "instance": self.runner.instance,
            "leaseUntil": date(now + self.runner.lease), "principal": principal_record(ctx.principal),
        }
        run_id = await self.records.claim(fields)
        assert run_id is not None  # no fireKey: nothing to collide with
        task = self.runner.launch(RunPlan(run_id, name, dict(params or {}), ctx, now))
        self._launched[run_id] = task
        task.add_done_callback(lambda _: self._launched.pop(run_id, None))
        return run_id

    async def wait(self, run_id: str) -> dict[str, Any]:
        """Wait for a run started on this instance to end; its final record."""
        task = self._launched.get(run_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return await self._run(run_id)

    async def status(self, ctx: RequestContext, run_id: str) -> dict[str, Any]:
        """One run record; an agent sees only the runs it started."""
        _require_reader(ctx)
        run = await self._run(run_id)
        if ctx.principal.kind == PrincipalKind.AGENT and (run.get("principal") or {}).get("agentId") != (
            ctx.principal.agent_id
        ):
            raise ObjectNotFound("No such job run.")
        return run

    async def runs(self, ctx: RequestContext, job_name: str | None = None, status: str | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
        _require_master_reader(ctx)
        where: dict[str, Any] = {}
        if job_name:
            where["jobName"] = job_name
        if status:
            where["status"] = status
        return await self.records.find_runs(where, limit=limit)

    async def cancel(self, ctx: RequestContext, run_id: str) -> dict[str, Any]:
        """Ask a running job to stop, wherever it runs; a run already over is left as it is."""
        _require_master(ctx)
        run = await self._run(run_id)
        if run.get("status") in FINAL:
            return run
        if not self.runner.cancel_local(run_id):  # runs elsewhere: its instance sees the flag at its heartbeat
            await self.records.update_run(run_id, {"cancelRequested": True})
        return await self._run(run_id)

    async def _run(self, run_id: str) -> dict[str, Any]:
        run = await self.records.get_run(run_id)
        if run is None:
            raise ObjectNotFound("No such job run.")
        return run

    async def list_jobs(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every registered job with its schedules (next fire time) and how many runs are running."""
        _require_reader(ctx)
        schedules = await self.schedules(ctx) if ctx.principal.is_master else []
        running = await self.records.find_runs({"status": "running"}, limit=1000, keys="jobName")
        listing = []
        for name in self.job_names():
            mine = [s for s in schedules if s.get("jobName") == name]
            listing.append({
                "name": name, "running": sum(1 for run in running if run.get("jobName") == name),
                "schedules": [self.describe_schedule(s) for s in mine],
            })
        return listing

    def describe_schedule(self, record: dict[str, Any]) -> dict[str, Any]:
        """A schedule record plus what the scheduler knows: nextFire, or why it cannot run."""
        described = dict(record)
        next_fire = self.scheduler.next_fire_of(record["objectId"])
        described["nextFire"] = next_fire.astimezone(UTC).isoformat() if next_fire else None
        if record["objectId"] in self.scheduler.invalid:
            described["problem"] = self.scheduler.invalid[record["objectId"]]
        return described

    # --- schedules (Parse's /cloud_code/jobs) ----------------------------------------------

    async def schedules(self, ctx: RequestContext) -> list[dict[str, Any]]:
        _require_master_reader(ctx)
        return await self.records.schedules()

    async def create_schedule(self, ctx: RequestContext, body: object) -> dict[str, Any]:
        _require_master(ctx)
        fields = _schedule_fields(body)
        fields.setdefault("startAfter", self.clock.now().isoformat())
        _known_job(fields, self.job_names())
        check_schedule(fields, set(self.job_names()))
        created = await self.records.create_schedule(fields)
        self.scheduler.poke()
        return created

    async def update_schedule(self, ctx: RequestContext, schedule_id: str, body: object) -> dict[str, Any]:
        _require_master(ctx)
        current = await self.records.get_schedule(schedule_id)
        fields = _schedule_fields(body)
        _known_job(fields, self.job_names())
        merged = {k: v for k, v in ({**current, **fields}).items() if v is not None}
        check_schedule(merged, set(self.job_names()))
        changes = {key: ({"__op": "Delete"} if value is None else value) for key, value in fields.items()}
        updated = await self.records.update_schedule(schedule_id, changes)
        self.scheduler.poke()
        return updated

    async def delete_schedule(self, ctx: RequestContext, schedule_id: str) -> None:
        _require_master(ctx)
        await self.records.delete_schedule(schedule_id)
        self.scheduler.poke()

    async def pause(self, ctx: RequestContext, schedule_id: str) -> dict[str, Any]:
        return await self.update_schedule(ctx, schedule_id, {"paused": True})

    async def resume(self, ctx: RequestContext, schedule_id: str) -> dict[str, Any]:
        return await self.update_schedule(ctx, schedule_id, {"paused": False})


def _schedule_fields(body: object) -> dict[str, Any]:
    """The schedule fields a client sent, checked for unknown keys; params kept as a JSON string (Parse)."""
    if not isinstance(body, Mapping):
        raise InvalidValue("job_schedule must be an object.")
    unknown = sorted(set(body) - SCHEDULE_KEYS - {"objectId", "createdAt", "updatedAt", "ACL"})
    if unknown:
        raise InvalidKeyName(f"Unknown schedule field(s): {', '.join(unknown)[:200]}.")
    fields = {key: value for key, value in body.items() if key in SCHEDULE_KEYS}
    if isinstance(fields.get("params"), Mapping):
        fields["params"] = json.dumps(fields["params"])
    return fields


def _known_job(fields: Mapping[str, Any], names: list[str]) -> None:
    name = fields.get("jobName")
    if name is not None and name not in names:
        raise ScriptFailed("Cannot Schedule a job that is not deployed")


def _require_master(ctx: RequestContext) -> None:
    if not ctx.principal.is_master:
        raise MasterKeyRequired()
    if ctx.principal.is_read_only:
        raise OperationForbidden("read-only masterKey isn't allowed to change jobs.")


def _require_master_reader(ctx: RequestContext) -> None:
    if not ctx.principal.is_master:
        raise MasterKeyRequired()


def _require_reader(ctx: RequestContext) -> None:
    if not (ctx.principal.is_master or ctx.principal.kind == PrincipalKind.AGENT):
        raise MasterKeyRequired()


def _require_runner(ctx: RequestContext) -> None:
    if ctx.principal.is_read_only:
        raise OperationForbidden("read-only masterKey isn't allowed to run a job.")
    if not (ctx.principal.is_master or ctx.principal.kind == PrincipalKind.AGENT):
        raise MasterKeyRequired()
