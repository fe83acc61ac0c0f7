"""Runs one claimed job: attempts with backoff, a hard timeout, cooperative cancel, heartbeats.

A run's record says ``running`` with a lease (``leaseUntil``) this instance
keeps extending while the job runs; if the instance dies the lease runs out
and another instance's reaper (``jobs.leases``) marks the run lost or retries
it. Every outcome is written to the record: succeeded, failed, timed out,
cancelled, never silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.cloud import Registry
from backend.context import RequestContext
from backend.metrics import job_runs
from backend.services.data.objects import ObjectService
from jobs.clock import Clock
from jobs.records import JobRecords, date
from jobs.request import JobRequest

log = logging.getLogger("ballast.jobs")


@dataclass(frozen=True)
class RunPlan:
    """A claimed run and how to run it."""

    run_id: str
    job_name: str
    params: dict[str, Any]
    ctx: RequestContext
    started: datetime
    attempt: int = 1
    max_attempts: int = 1
    retry_backoff: float = 10.0
    timeout: float | None = None


@dataclass
class Outcome:
    status: str
    message: str | None = None
    error: str | None = None


@dataclass
class Active:
    plan: RunPlan
    request: JobRequest | None = None
    job: asyncio.Future[Any] | None = None
    hard_cancelled: bool = False
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class Runner:
    """Executes runs on this instance and keeps their leases alive."""

    def __init__(self, records: JobRecords, objects: ObjectService, registry: Registry, clock: Clock,
                 instance: str, lease_seconds: float, cancel_grace: float = 5.0) -> None:
        self.records = records
        self.objects = objects
        self.registry = registry
        self.clock = clock
        self.instance = instance
        self.lease = timedelta(seconds=lease_seconds)
        self.cancel_grace = cancel_grace
        self.active: dict[str, Active] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def launch(self, plan: RunPlan) -> asyncio.Task[str]:
        """Run in the background; the task's result is the final status."""
        task = asyncio.ensure_future(self.execute(plan))
        self.track(task)
        return task

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def idle(self) -> None:
        """Wait until every run launched here has finished (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def execute(self, plan: RunPlan) -> str:
        active = self.active[plan.run_id] = Active(plan)
        try:
            outcome = await self._attempts(plan, active)
        finally:
            self.active.pop(plan.run_id, None)
        await self._finish(plan, active, outcome)
        return outcome.status

    async def _attempts(self, plan: RunPlan, active: Active) -> Outcome:
        attempt = plan.attempt
        while True:
            outcome = await self._attempt(plan, active, attempt)
            cancelled = active.request is not None and active.request.cancelled
            if outcome.status != "failed" or attempt >= plan.max_attempts or cancelled:
                return outcome
            delay = plan.retry_backoff * 2 ** (attempt - 1)
            attempt += 1
            note = f"attempt {attempt - 1} failed ({outcome.error}); retrying in {delay:g}s"
            await self.records.update_run(plan.run_id, {"attempts": attempt, "message": note})
            await self._backoff(active, delay)
            if active.request is not None and active.request.cancelled:
                return Outcome("cancelled", "cancelled while waiting to retry", outcome.error)

    async def _backoff(self, active: Active, delay: float) -> None:
        wake = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + timedelta(seconds=delay)))
        cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        active.waiters.append(cancelled)
        try:
            await asyncio.wait({wake, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()
            active.waiters.remove(cancelled)

    async def _attempt(self, plan: RunPlan, active: Active, attempt: int) -> Outcome:
        spec = self.registry.jobs.get(plan.job_name)
        if spec is None:
            return Outcome("failed", error=f"No job named {plan.job_name!r} is registered on this server.")
        request = JobRequest(plan.job_name, plan.run_id, dict(plan.params), plan.ctx, self.objects, attempt)
        request._flush = lambda fields: self.records.update_run(plan.run_id, fields)
        if active.request is not None:  # a retry keeps the earlier attempts' log lines
            request.log.lines = active.request.log.lines
            request.cancelled = active.request.cancelled
        active.request = request
        job = active.job = asyncio.ensure_future(_call(spec.handler, request))
        try:
            return await self._await_job(plan, active, job, request)
        finally:
            active.job = None

    async def _await_job(self, plan: RunPlan, active: Active, job: asyncio.Future[Any],
                         request: JobRequest) -> Outcome:
        timer: asyncio.Future[None] | None = None
        if plan.timeout is not None:
            deadline = self.clock.now() + timedelta(seconds=plan.timeout)
            timer = asyncio.ensure_future(self.clock.sleep_until(deadline))
        try:
            await asyncio.wait({job} | ({timer} if timer else set()), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is stopping: stop the job too
            job.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if not job.done():
            job.cancel()
            return Outcome("timed out", request.message_text, f"Timed out after {plan.timeout:g}s.")
        if job.cancelled():
            return Outcome("cancelled", request.message_text, "Cancelled (the job did not stop by itself).")
        error = job.exception()
        if error is not None:
            request.log.error("%s: %s", type(error).__name__, error)
            # as Parse's jobStatus.setFailed: the thrown text is the run's message (the class name stays in error)
            return Outcome("failed", (str(error) or type(error).__name__)[:2000],
                           f"{type(error).__name__}: {error}"[:2000])
        result = job.result()
        message = str(result)[:2000] if result is not None else request.message_text
        return Outcome("cancelled" if request.cancelled else "succeeded", message)

    async def _finish(self, plan: RunPlan, active: Active, outcome: Outcome) -> None:
        now = self.clock.now()
        fields: dict[str, Any] = {
            "status": outcome.status, "finishedAt": date(now),
            "durationMs": round((now - plan.started).total_seconds() * 1000, 3),
        }
        if active.request is not None:
            fields |= active.request.pending()
        if outcome.message is not None:
            fields["message"] = outcome.message
        if outcome.error is not None:
            fields["error"] = outcome.error
        job_runs.labels(plan.job_name, outcome.status).inc()
        try:
            await self.records.update_run(plan.run_id, fields)
        except Exception:  # the record stays "running"; its lease expires and the reaper settles it
            log.exception("could not record the end of job run %s", plan.run_id)

    # --- cancel and heartbeat -----------------------------------------------------------

    def cancel_local(self, run_id: str) -> bool:
        """Ask a run on this instance to stop; hard-cancel it if it ignores the flag for the grace time."""
        active = self.active.get(run_id)
        if active is None:
            return False
        if active.request is not None:
            active.request.cancelled = True
        for waiter in active.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.track(asyncio.ensure_future(self._hard_cancel(run_id, active)))
        return True

    async def _hard_cancel(self, run_id: str, active: Active) -> None:
        await self.clock.sleep_until(self.clock.now() + timedelta(seconds=self.cancel_grace))
        if self.active.get(run_id) is active and active.job is not None and not active.job.done():
            active.hard_cancelled = True
            active.job.cancel()

    async def heartbeat(self) -> None:
        """Extend the leases of runs here, write their progress, and pick up cancels asked elsewhere."""
        if not self.active:
            return
        until = date(self.clock.now() + self.lease)
        for run_id, active in list(self.active.items()):
            fields: dict[str, Any] = {"leaseUntil": until}
            if active.request is not None:
                fields |= active.request.pending()
            with contextlib.suppress(Exception):
                await self.records.update_run(run_id, fields)
        asked = await self.records.find_runs(
            {"objectId": {"$in": list(self.active)}, "cancelRequested": True}, keys="objectId"
        )
        for run in asked:
            self.cancel_local(run["objectId"])

    async def stop(self) -> None:
        """Shutdown: cancel what runs here (recorded as cancelled) and wait for it."""
        for active in list(self.active.values()):
            if active.request is not None:
                active.request.cancelled = True
            if active.job is not None:
                active.job.cancel()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)


async def _call(handler: Any, request: JobRequest) -> Any:
    """Async handlers are awaited; plain functions run in a thread so they cannot stall the scheduler."""
    if inspect.iscoroutinefunction(handler):
        return await handler(request)
    result = await asyncio.to_thread(handler, request)
    if inspect.isawaitable(result):
        return await result
    return result
