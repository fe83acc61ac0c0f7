"""Lost runs: a run whose instance stopped heartbeating is marked lost, and retried once if its policy allows.

Every instance reaps. Marking is guarded (the row is locked and re-read in
one transaction, so a run is only marked lost while it is still running with
an expired lease); the retry is a new run claimed under a unique fireKey
(``<original key>#<attempt>``), so of several reapers exactly one retries it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from backend.context import MASTER, Principal, PrincipalKind, RequestContext
from backend.errors import ParseError
from jobs.clock import Clock
from jobs.records import RUNS, JobRecords, date, moment
from jobs.runner import Runner, RunPlan

log = logging.getLogger("ballast.jobs")


class _Settled(Exception):
    """The run is no longer running with an expired lease: leave it alone."""


class Reaper:
    def __init__(self, records: JobRecords, runner: Runner, clock: Clock) -> None:
        self.records = records
        self.runner = runner
        self.clock = clock

    async def reap(self) -> list[str]:
        """Settle runs whose lease expired; returns the ids of the retries this instance started."""
        now = self.clock.now()
        expired = await self.records.find_runs(
            {"status": "running", "leaseUntil": {"$lt": date(now)}}, order="leaseUntil", limit=100
        )
        retried: list[str] = []
        for run in expired:
            if run["objectId"] in self.runner.active:
                continue  # ours and alive: the heartbeat is merely late
            try:
                if await self._mark_lost(run["objectId"], now):
                    retry = await self._retry(run, now)
                    if retry:
                        retried.append(retry)
            except ParseError:
                log.exception("could not settle lost job run %s", run["objectId"])
        return retried

    async def _mark_lost(self, run_id: str, now: datetime) -> bool:
        objects, ctx = self.records.objects, self.records.ctx
        fields = {
            "status": "lost", "finishedAt": date(now),
            "error": "The instance running this job stopped (its lease expired).",
        }
        try:
            async with objects.db.unit() as unit:
                # the update takes the row lock first; re-reading under it tells whether it is still ours to mark
                await objects.update(ctx, RUNS, run_id, {"reapedAt": date(now)}, unit=unit)
                current = await objects.get(ctx, RUNS, run_id, unit=unit)
                lease = moment(current.get("leaseUntil"))
                if current.get("status") != "running" or lease is None or lease >= now:
                    raise _Settled()
                await objects.update(ctx, RUNS, run_id, fields, unit=unit)
        except _Settled:
            return False
        return True

    async def _retry(self, run: dict[str, Any], now: datetime) -> str | None:
        attempts = int(run.get("attempts") or 1)
        if attempts >= int(run.get("maxAttempts") or 1):
            return None
        base = str(run.get("fireKey") or f"run:{run['objectId']}").split("#")[0]
        fields = {
            key: run[key] for key in ("jobName", "source", "params", "scheduleId", "scheduledAt",
                                      "maxAttempts", "principal", "timeout", "retryBackoff") if key in run
        } | {
            "status": "running", "fireKey": f"{base}#{attempts + 1}", "attempts": attempts + 1,
            "startedAt": date(now), "instance": self.runner.instance,
            "leaseUntil": date(now + self.runner.lease), "message": f"retry of lost run {run['objectId']}",
        }
        retry_id = await self.records.claim(fields)
        if retry_id is None:
            return None
        self.runner.launch(RunPlan(
            retry_id, str(run["jobName"]), dict(run.get("params") or {}), principal_context(run.get("principal")),
            now, attempts + 1, int(run.get("maxAttempts") or 1), float(run.get("retryBackoff") or 0),
            run.get("timeout"),
        ))
        return retry_id


def principal_record(principal: Principal) -> dict[str, Any]:
    """What a run stores of who started it, to run a retry as the same Principal."""
    return {"kind": str(principal.kind), "userId": principal.user_id, "agentId": principal.agent_id,
            "roles": sorted(principal.roles)}


def principal_context(record: object) -> RequestContext:
    if not isinstance(record, dict) or record.get("kind") in (None, "master"):
        return RequestContext(MASTER)
    roles = frozenset(str(role) for role in record.get("roles") or ())
    principal = Principal(PrincipalKind(record["kind"]), record.get("userId"), roles, record.get("agentId"))
    return RequestContext(principal)
