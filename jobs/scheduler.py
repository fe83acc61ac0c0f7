"""The scheduler every instance runs: due fires from the schedules, each claimed once across instances.

``tick(now)`` is the whole decision (which fires are due, misfire policy,
claim, launch) and takes the time as an argument, so tests drive it with a
DrivenClock; ``run`` is the loop that calls it, sleeping until the next fire.
APScheduler 3's triggers compute the fire times (cron, intervals, time zones,
DST). Its own scheduler loop is not used: it keeps jobs in process memory and
reads the wall clock, whereas our truth is the ``_JobSchedule`` table, shared
by every instance, and tests must move time by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.context import MASTER, RequestContext
from backend.errors import ParseError
from backend.metrics import job_lateness
from jobs.clock import Clock
from jobs.leases import Reaper, principal_record
from jobs.records import JobRecords, date
from jobs.runner import Runner, RunPlan
from jobs.specs import ScheduleSpec, check_schedule, due_times, plan_fires

log = logging.getLogger("ballast.jobs")
MAX_CLAIMING = 8  # fires claiming at once per instance: well under the connection pool, so requests still get one


@dataclass
class Entry:
    spec: ScheduleSpec
    version: str
    next_fire: datetime | None


class Scheduler:
    def __init__(self, records: JobRecords, runner: Runner, reaper: Reaper, clock: Clock,
                 known_jobs: Any, refresh_seconds: float, builtin: list[dict[str, Any]] | None = None) -> None:
        self.records = records
        self.runner = runner
        self.reaper = reaper
        self.clock = clock
        self.known_jobs = known_jobs  # a live view of the registry's job names
        self.refresh_seconds = min(refresh_seconds, runner.lease.total_seconds() / 3)
        self.builtin = list(builtin or [])  # schedules every server has, with no table row
        self.entries: dict[str, Entry] = {}
        self.invalid: dict[str, str] = {}  # schedule id -> why it cannot run
        self._heap: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._poke = asyncio.Event()
        self._claiming = asyncio.Semaphore(MAX_CLAIMING)
        self._task: asyncio.Task[None] | None = None

    # --- the schedules -----------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload schedules from the table (other instances and the API change them)."""
        seen: set[str] = set()
        for record in [*await self.records.schedules(), *self.builtin]:
            schedule_id = record["objectId"]
            seen.add(schedule_id)
            version = str(record.get("updatedAt"))
            entry = self.entries.get(schedule_id)
            if entry is not None and entry.version == version:
                continue
            await self._load(record, version, entry)
        for gone in set(self.entries) - seen:
            del self.entries[gone]
        self.invalid = {key: why for key, why in self.invalid.items() if key in seen}
        self._rebuild_heap()

    async def _load(self, record: dict[str, Any], version: str, entry: Entry | None) -> None:
        schedule_id = record["objectId"]
        try:
            spec = check_schedule(record, set(self.known_jobs))
        except ParseError as error:  # a bad row must not stop the other schedules
            self.invalid[schedule_id] = error.message
            self.entries.pop(schedule_id, None)
            log.warning("schedule %s cannot run: %s", schedule_id, self.invalid[schedule_id])
            return
        self.invalid.pop(schedule_id, None)
        if entry is not None and not spec.paused:  # an edit: fire from now on by the new rule
            next_fire = spec.first_from(self.clock.now())
        else:
            last = await self.records.latest_fire(schedule_id)
            first = self.clock.now() if "createdAt" not in record and "startAfter" not in record else spec.anchor
            next_fire = spec.next_after(last) if last else spec.first_from(first)
        self.entries[schedule_id] = Entry(spec, version, next_fire)

    def _rebuild_heap(self) -> None:
        self._heap = [(e.next_fire, next(self._order), key) for key, e in self.entries.items() if e.next_fire]
        heapq.heapify(self._heap)

    def next_fire_of(self, schedule_id: str) -> datetime | None:
        entry = self.entries.get(schedule_id)
        return entry.next_fire if entry and not entry.spec.paused else None

    # --- firing ------------------------------------------------------------------------

    async def tick(self, now: datetime) -> list[asyncio.Task[str | None]]:
        """Fire what is due at ``now``; returns the launched claim-and-run tasks."""
        tasks: list[asyncio.Task[str | None]] = []
        while self._heap and self._heap[0][0] <= now:
            moment, _, schedule_id = heapq.heappop(self._heap)
            entry = self.entries.get(schedule_id)
            if entry is None or entry.next_fire != moment:
                continue  # stale heap item (schedule edited or removed)
            due, entry.next_fire = due_times(entry.spec, entry.next_fire, now)
            if entry.next_fire is not None:
                heapq.heappush(self._heap, (entry.next_fire, next(self._order), schedule_id))
            if entry.spec.paused:
                continue
            for fire_time, missed in plan_fires(entry.spec, due, now):
                task = asyncio.ensure_future(self.fire(entry.spec, fire_time, missed))
                self.runner.track(task)
                tasks.append(task)
        return tasks

    async def fire(self, spec: ScheduleSpec, fire_time: datetime, missed: bool = False) -> str | None:
        """Claim this fire (once across instances) and run it here; None when another instance has it.

        At most ``MAX_CLAIMING`` fires claim at once, so a burst queues here instead of exhausting the
        connection pool; a claim that fails (database away) is logged and left to the other instances.
        """
        try:
            async with self._claiming:
                claimed = await self._claim(spec, fire_time, missed)
        except Exception:
            log.exception("could not claim the %s fire of schedule %s", fire_time, spec.object_id)
            return None
        if claimed is None:
            return None
        run_id, plan = claimed
        if plan is not None:
            await self.runner.execute(plan)
        return run_id

    async def _claim(self, spec: ScheduleSpec, fire_time: datetime, missed: bool) -> tuple[str, RunPlan | None] | None:
        now = self.clock.now()
        fields: dict[str, Any] = {
            "jobName": spec.job_name, "source": "schedule", "status": "running", "params": spec.params,
            "scheduleId": spec.object_id, "fireKey": f"{spec.object_id}@{fire_time.isoformat()}",
            "scheduledAt": date(fire_time), "startedAt": date(now), "attempts": 1,
            "maxAttempts": spec.retries + 1, "instance": self.runner.instance,
            "leaseUntil": date(now + self.runner.lease), "principal": principal_record(MASTER),
            "retryBackoff": spec.retry_backoff,
        }
        if spec.timeout is not None:
            fields["timeout"] = spec.timeout
        if missed:
            fields["message"] = "misfire: the server was down at the fire time; ran once now"
        run_id = await self.records.claim(fields)
        if run_id is None:
            return None
        job_lateness.labels(spec.job_name).observe(max(0.0, (now - fire_time).total_seconds()))
        if await self._over_limit(spec, run_id):
            return run_id, None
        return run_id, RunPlan(run_id, spec.job_name, dict(spec.params), RequestContext(MASTER), now,
                               1, spec.retries + 1, spec.retry_backoff, spec.timeout)

    async def _over_limit(self, spec: ScheduleSpec, run_id: str) -> bool:
        """maxConcurrency across instances: our claim counts itself, so racing claims both yield (never both run)."""
        running = await self.records.count_runs({"scheduleId": spec.object_id, "status": "running"})
        if running <= spec.max_concurrency:
            return False
        await self.records.update_run(run_id, {
            "status": "skipped", "finishedAt": date(self.clock.now()), "durationMs": 0,
            "message": f"skipped: {running - 1} run(s) of this schedule still running (maxConcurrency "
                       f"{spec.max_concurrency})",
        })
        return True

    # --- the loop ----------------------------------------------------------------------

    def poke(self) -> None:
        """Wake the loop now (a schedule changed on this instance)."""
        self._poke.set()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        next_refresh = self.clock.now()
        while True:
            now = self.clock.now()
            if now >= next_refresh:
                await self._housekeeping()
                next_refresh = self.clock.now() + timedelta(seconds=self.refresh_seconds)
            try:
                await self.tick(self.clock.now())
            except Exception:
                log.exception("scheduler tick failed; going on")
            wake = min(next_refresh, self._heap[0][0]) if self._heap else next_refresh
            if await self._sleep_until(wake):
                next_refresh = self.clock.now()

    async def _housekeeping(self) -> None:
        for step in (self.refresh, self.runner.heartbeat, self.reaper.reap):
            try:
                await step()
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("scheduler housekeeping step %s failed", step.__name__)

    async def _sleep_until(self, wake: datetime) -> bool:
        """Sleep until ``wake`` or a poke; True when poked."""
        self._poke.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep_until(wake))
        poked = asyncio.ensure_future(self._poke.wait())
        try:
            await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            poked.cancel()
        return self._poke.is_set()
