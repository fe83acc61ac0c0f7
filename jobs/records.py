"""Run records (``_JobStatus``) and schedules (``_JobSchedule``), read and written through ObjectService.

Both are Parse classes (master-only), so they exist on every engine with no
storage code of their own. A scheduled fire is claimed by inserting its run
record: ``fireKey`` (schedule id @ fire time) carries a unique index, so of
several instances racing for one fire exactly one insert succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backend import wire
from backend.context import RequestContext
from backend.errors import DuplicateValue, ObjectNotFound
from backend.services.data.objects import FindOptions, ObjectService

log = logging.getLogger("ballast.jobs")

RUNS = "_JobStatus"
SCHEDULES = "_JobSchedule"
FINAL = ("succeeded", "failed", "timed out", "cancelled", "lost", "skipped")
MASTER_ONLY: dict[str, Any] = {op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")} | {
    "protectedFields": {}
}
_RUN_FIELDS = {
    "scheduleId": "String", "fireKey": "String", "scheduledAt": "Date", "startedAt": "Date",
    "attempts": "Number", "maxAttempts": "Number", "progress": "String", "log": "Array", "error": "String",
    "durationMs": "Number", "instance": "String", "leaseUntil": "Date", "cancelRequested": "Boolean",
    "principal": "Object", "timeout": "Number", "retryBackoff": "Number", "reapedAt": "Date",
}
_SCHEDULE_FIELDS = {
    "cron": "String", "intervalSeconds": "Number", "timeZone": "String", "endAt": "String", "retries": "Number",
    "retryBackoff": "Number", "timeout": "Number", "maxConcurrency": "Number", "misfirePolicy": "String",
    "misfireGraceSeconds": "Number", "paused": "Boolean",
}

_INDEXES = {
    RUNS: {
        "schedule_status": {"scheduleId": 1, "status": 1},
        "schedule_fire": {"scheduleId": 1, "scheduledAt": -1},
        "status_lease": {"status": 1, "leaseUntil": 1},
        "finished": {"finishedAt": 1},
    },
}


def date(value: datetime) -> dict[str, str]:
    """A datetime as Parse JSON, ready for ObjectService."""
    encoded: dict[str, str] = wire.encode(value)
    return encoded


def moment(value: object) -> datetime | None:
    """A Date field (or ISO string) of a rendered record back to a datetime."""
    if isinstance(value, Mapping):
        value = value.get("iso")
    return wire.parse_iso(value) if isinstance(value, str) else None


class JobRecords:
    """The jobs' tables, as master, through the one data path."""

    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.ctx = RequestContext.system()
        self._ready = False

    async def ensure_classes(self) -> None:
        """Create both classes (master-only) and the unique fire index once; safe when instances race."""
        if self._ready:
            return
        for attempt in range(3):
            try:
                await self._create_classes()
                break
            except Exception:  # another instance created them at the same moment: reload and look again
                self.objects.schemas.forget(RUNS)
                self.objects.schemas.forget(SCHEDULES)
                if attempt == 2:
                    raise
        self._ready = True

    async def _create_classes(self) -> None:
        schemas = self.objects.schemas
        async with self.objects.db.unit() as unit:
            for name, extra in ((RUNS, _RUN_FIELDS), (SCHEDULES, _SCHEDULE_FIELDS)):
                fields = {key: {"type": kind} for key, kind in extra.items()}
                body = {"fields": fields, "classLevelPermissions": MASTER_ONLY, "indexes": _INDEXES.get(name, {})}
                await schemas.ensure_class(unit, name, body)
            await schemas.ensure_unique(unit, RUNS, ("fireKey",))

    # --- runs --------------------------------------------------------------------------

    async def claim(self, fields: Mapping[str, Any]) -> str | None:
        """Insert a run record; None when its fireKey was already claimed (by any instance)."""
        await self.ensure_classes()
        try:
            created = await self.objects.create(self.ctx, RUNS, fields)
        except DuplicateValue:
            return None
        return str(created["objectId"])

    async def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        await self.objects.update(self.ctx, RUNS, run_id, fields)

    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            return await self.objects.get(self.ctx, RUNS, run_id)
        except ObjectNotFound:
            return None

    async def find_runs(self, where: Mapping[str, Any], *, order: str = "-createdAt", limit: int = 100,
                        keys: str | None = None) -> list[dict[str, Any]]:
        result = await self.objects.find(self.ctx, RUNS, FindOptions(where=dict(where), order=order, limit=limit,
                                                                   keys=keys))
        return result.results

    async def count_runs(self, where: Mapping[str, Any]) -> int:
        return await self.objects.count(self.ctx, RUNS, dict(where))

    async def latest_fire(self, schedule_id: str) -> datetime | None:
        """When this schedule last fired (from its newest run), to resume after a restart."""
        found = await self.find_runs({"scheduleId": schedule_id, "scheduledAt": {"$exists": True}},
                                     order="-scheduledAt", limit=1, keys="scheduledAt")
        return moment(found[0].get("scheduledAt")) if found else None

    async def delete_run(self, run_id: str) -> None:
        await self.objects.delete(self.ctx, RUNS, run_id)

    # --- schedules ---------------------------------------------------------------------

    async def schedules(self) -> list[dict[str, Any]]:
        result = await self.objects.find(self.ctx, SCHEDULES, FindOptions(order="createdAt", limit=10_000))
        return result.results

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self.objects.get(self.ctx, SCHEDULES, schedule_id)

    async def create_schedule(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        await self.ensure_classes()
        return await self.objects.create(self.ctx, SCHEDULES, fields)

    async def update_schedule(self, schedule_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self.objects.update(self.ctx, SCHEDULES, schedule_id, fields)

    async def delete_schedule(self, schedule_id: str) -> None:
        await self.objects.delete(self.ctx, SCHEDULES, schedule_id)
