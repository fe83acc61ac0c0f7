"""Built-in jobs (both engines): expired sessions and old run records are deleted; the hooks say what is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from backend import wire
from backend.cloud import Registry, cloud
from backend.config import Settings
from backend.context import RequestContext
from backend.services.data.objects import FindOptions
from jobs import builtin
from jobs.records import date
from tests.jobs.conftest import Instance, open_instance

MASTER = RequestContext.system()


@pytest.fixture
async def inst(settings: Settings) -> AsyncIterator[Instance]:
    registry = Registry()
    registry.jobs.update({name: spec for name, spec in cloud.registry.jobs.items() if name.startswith("ballast.")})
    async with open_instance(settings, registry, "one") as instance:
        yield instance


async def run(inst: Instance, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return await inst.jobs.wait(await inst.jobs.start(MASTER, name, params or {}))


async def test_prune_deletes_finished_runs_older_than_the_retention_only(inst: Instance) -> None:
    old, recent = await run(inst, "ballast.sessionCleanup"), await run(inst, "ballast.sessionCleanup")
    await inst.jobs.records.update_run(old["objectId"], {"finishedAt": date(wire.now() - timedelta(days=40))})
    result = await run(inst, "ballast.pruneJobRuns", {"days": 30})
    assert result["status"] == "succeeded" and result["message"] == "1 run record(s) older than 30 day(s) deleted"
    assert await inst.jobs.records.get_run(old["objectId"]) is None
    assert await inst.jobs.records.get_run(recent["objectId"]) is not None


async def test_prune_refuses_a_bad_retention(inst: Instance) -> None:
    result = await run(inst, "ballast.pruneJobRuns", {"days": -1})
    assert result["status"] == "failed" and "days must be" in result["error"]


async def test_session_cleanup_deletes_only_expired_sessions(inst: Instance) -> None:
    objects = inst.services.objects
    for name, offset in (("gone", -1), ("kept", 1)):
        await objects.create(MASTER, "_Session", {"sessionToken": f"r:{name}", "installationId": name,
                                                  "expiresAt": date(wire.now() + timedelta(days=offset))})
    result = await run(inst, "ballast.sessionCleanup")
    assert result["message"] == "1 expired session(s) deleted"
    left = await objects.find(MASTER, "_Session", FindOptions(keys="installationId"))
    assert [row["installationId"] for row in left.results] == ["kept"]


async def test_audit_and_file_hooks_run_when_installed(inst: Instance) -> None:
    saved = dict(builtin.HOOKS)
    try:
        builtin.HOOKS.clear()
        assert (await run(inst, "ballast.orphanFileReport"))["message"].startswith("no file store installed")

        async def report(req: Any) -> str:
            return "3 orphaned files"

        builtin.install_hook("orphanFileReport", report)
        assert (await run(inst, "ballast.orphanFileReport"))["message"] == "3 orphaned files"
        with pytest.raises(ValueError, match="no built-in job"):
            builtin.install_hook("somethingElse", report)
    finally:
        builtin.HOOKS.clear()
        builtin.HOOKS.update(saved)


async def test_builtin_schedules_are_fired_like_any_schedule(settings: Settings) -> None:
    from backend.services.wiring import build_services
    from jobs.clock import DrivenClock
    from jobs.wiring import build_jobs
    from tests.jobs.conftest import START

    services = build_services(settings)
    await services.start()
    clock = DrivenClock(START)
    jobs = build_jobs(services, clock=clock, instance="x")
    try:
        await jobs.scheduler.refresh()
        assert jobs.scheduler.next_fire_of("builtin-sessionCleanup") == START + timedelta(minutes=7)
        await clock.set(START + timedelta(minutes=7))
        for task in await jobs.scheduler.tick(clock.now()):
            await task
        [ran] = await jobs.records.find_runs({"scheduleId": "builtin-sessionCleanup"})
        assert ran["status"] == "succeeded" and ran["jobName"] == "ballast.sessionCleanup"
    finally:
        await jobs.close()
        await services.stop()
