"""Built-in jobs, registered through the same ``@cloud.job`` seam app code uses.

- ``ballast.sessionCleanup``: delete expired ``_Session`` rows.
- ``ballast.pruneJobRuns``: delete finished run records older than the retention (``days`` param).
- ``ballast.auditCheckpoint`` and ``ballast.orphanFileReport``: call the hook the audit chain and the
  files parts install with ``install_hook``; until they do, the run says there is nothing to do.

``builtin_schedules`` are fired by every instance's scheduler (claimed once,
like any schedule) without a ``_JobSchedule`` row of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from backend import wire
from backend.cloud import cloud
from backend.services.data.objects import FindOptions
from jobs.records import RUNS, date
from jobs.request import JobRequest

BATCH = 500
DEFAULT_RETENTION_DAYS = 30
Hook = Callable[[JobRequest], Awaitable[Any]]
HOOKS: dict[str, Hook] = {}


def builtin_schedules(retention_days: int) -> list[dict[str, Any]]:
    """The built-ins' schedules (no ``_JobSchedule`` rows: they exist on every server)."""
    return [
        {"objectId": "builtin-sessionCleanup", "jobName": "ballast.sessionCleanup", "cron": "7 * * * *",
         "misfirePolicy": "skip"},
        {"objectId": "builtin-pruneJobRuns", "jobName": "ballast.pruneJobRuns", "cron": "17 3 * * *",
         "params": {"days": retention_days}, "misfirePolicy": "skip"},
    ]


def install_hook(name: str, hook: Hook) -> None:
    """Plug a part's work into a built-in job: ``"auditCheckpoint"`` or ``"orphanFileReport"``."""
    if name not in ("auditCheckpoint", "orphanFileReport"):
        raise ValueError(f"no built-in job takes a hook named {name!r}")
    HOOKS[name] = hook


async def _delete_matching(req: JobRequest, class_name: str, where: dict[str, Any], what: str) -> int:
    deleted = 0
    while not req.cancelled:
        found = await req.objects.find(req.ctx, class_name, FindOptions(where=where, limit=BATCH, keys="objectId"))
        if not found.results:
            break
        for row in found.results:
            await req.objects.delete(req.ctx, class_name, row["objectId"])
        deleted += len(found.results)
        await req.progress(f"{deleted} {what} deleted")
    return deleted


@cloud.job("ballast.sessionCleanup")
async def session_cleanup(req: JobRequest) -> str:
    """Expired sessions are useless and still hold tokens: delete them."""
    where = {"expiresAt": {"$lt": date(wire.now())}}
    deleted = await _delete_matching(req, "_Session", where, "expired sessions")
    return f"{deleted} expired session(s) deleted"


@cloud.job("ballast.pruneJobRuns")
async def prune_job_runs(req: JobRequest) -> str:
    """Run records older than the retention go (running ones never do)."""
    days = req.params.get("days", DEFAULT_RETENTION_DAYS)
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        raise ValueError("days must be a number of days, 0 or more")
    cutoff = wire.now() - timedelta(days=float(days))
    where = {"finishedAt": {"$lt": date(cutoff)}, "objectId": {"$ne": req.job_id}}
    deleted = await _delete_matching(req, RUNS, where, "run records")
    return f"{deleted} run record(s) older than {days:g} day(s) deleted"


@cloud.job("ballast.auditCheckpoint")
async def audit_checkpoint(req: JobRequest) -> Any:
    """Seal the audit hash chain up to now (the audit part installs the hook)."""
    hook = HOOKS.get("auditCheckpoint")
    return await hook(req) if hook else "no audit chain installed: nothing to checkpoint"


@cloud.job("ballast.orphanFileReport")
async def orphan_file_report(req: JobRequest) -> Any:
    """List stored files no object points to (the files part installs the hook)."""
    hook = HOOKS.get("orphanFileReport")
    return await hook(req) if hook else "no file store installed: nothing to report"
