"""Several instances on ONE PostgreSQL: every fire runs exactly once; a killed instance's run is not dropped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.cloud import JobSpec, Registry
from backend.config import Settings
from backend.context import RequestContext
from jobs.request import JobRequest
from tests.conftest import APP_ID, MASTER_KEY
from tests.jobs.conftest import START, Instance, eventually, open_instance
from tests.support.postgres import PostgresCluster

MASTER = RequestContext.system()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_settings(pg_cluster: PostgresCluster, tmp_path: Path) -> Settings:
    return Settings(application_id=APP_ID, master_key=MASTER_KEY, data_dir=tmp_path / "data",
                    database_uri=pg_cluster.create_database())


@pytest.fixture
async def pair(pg_settings: Settings, registry: Registry) -> AsyncIterator[tuple[Instance, Instance]]:
    async with open_instance(pg_settings, registry, "a") as a, open_instance(pg_settings, registry, "b") as b:
        yield a, b


async def test_two_instances_run_100_scheduled_fires_exactly_once(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    ids = [str((await a.jobs.create_schedule(MASTER, {"jobName": "hello", "intervalSeconds": 60,
                                                      "startAfter": START.isoformat()}))["objectId"])
           for _ in range(4)]
    await asyncio.gather(a.jobs.scheduler.refresh(), b.jobs.scheduler.refresh())
    claimed: Counter[str] = Counter()
    for step in range(25):  # 4 schedules x 25 fires, both instances racing for each
        moment = START + timedelta(seconds=60 * step)
        tasks = [*await a.tick(moment), *await b.tick(moment)]
        for name, result in zip(["a"] * len(tasks), await asyncio.gather(*tasks), strict=True):
            if result is not None:
                claimed[name] += 1
    runs = await a.jobs.records.find_runs({"scheduleId": {"$in": ids}}, limit=1000)
    keys = Counter(run["fireKey"] for run in runs)
    assert len(runs) == 100 and len(keys) == 100 and max(keys.values()) == 1
    assert {run["status"] for run in runs} == {"succeeded"}
    assert Counter(run["instance"] for run in runs).keys() <= {"a", "b"}
    assert sum(claimed.values()) == 100  # every fire was claimed by exactly one of the two


async def _crash_an_instance(pg_settings: Settings, mode: str) -> str:
    """Start a job in another process, then SIGKILL that process mid-run; the run id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.crashing_instance", str(pg_settings.database_uri),
         str(pg_settings.data_dir), mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ},
    )
    try:
        assert process.stdout is not None
        run_id = await asyncio.to_thread(process.stdout.readline)
        assert run_id.strip(), "the instance did not start its job"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    return run_id.strip()


def _survivor_registry() -> Registry:
    registry = Registry()

    async def sleepy(req: JobRequest) -> str:  # on the surviving instance the job gets to finish
        return f"finished on attempt {req.attempt}"

    registry.jobs["sleepy"] = JobSpec("sleepy", sleepy)
    return registry


@pytest.mark.parametrize("mode", ["manual", "scheduled"])
async def test_a_killed_instances_run_is_marked_lost_or_retried_never_dropped(
    pg_settings: Settings, mode: str
) -> None:
    run_id = await _crash_an_instance(pg_settings, mode)
    registry = _survivor_registry()
    now = datetime.now(UTC)
    async with open_instance(pg_settings, registry, "b", start=now) as b, \
            open_instance(pg_settings, registry, "c", start=now) as c:
        assert await b.jobs.scheduler.reaper.reap() == []  # the lease still runs: not lost yet
        assert (await b.jobs.status(MASTER, run_id))["status"] == "running"
        later = now + timedelta(seconds=31)
        await asyncio.gather(b.clock.set(later), c.clock.set(later))
        retried = [*await b.jobs.scheduler.reaper.reap(), *await c.jobs.scheduler.reaper.reap()]
        await asyncio.gather(b.settle(), c.settle())
        lost = await b.jobs.status(MASTER, run_id)
        assert lost["status"] == "lost" and "lease expired" in lost["error"] and lost["progress"] == "working"
        if mode == "manual":  # no retries asked: recorded as lost, not retried
            assert retried == []
            return
        assert len(retried) == 1  # two reapers, one retry
        retry = await b.jobs.status(MASTER, retried[0])
        assert (retry["status"], retry["attempts"], retry["message"]) == ("succeeded", 2, "finished on attempt 2")
        assert retry["fireKey"] == lost["fireKey"] + "#2" and retry["scheduleId"] == lost["scheduleId"]


async def test_a_live_instance_keeps_its_lease_by_heartbeat(pair: tuple[Instance, Instance], gates: Any) -> None:
    a, b = pair
    run_id = await a.jobs.start(MASTER, "gated", {"gate": "hold"})
    await eventually(lambda: run_id in a.jobs.runner.active, "the run started on a")
    for minute in range(1, 4):  # minutes pass; a keeps heart-beating, b keeps looking
        moment = START + timedelta(minutes=minute)
        await asyncio.gather(a.clock.set(moment), b.clock.set(moment))
        await a.jobs.runner.heartbeat()
        assert await b.jobs.scheduler.reaper.reap() == []
    await b.jobs.cancel(MASTER, run_id)  # asked on b, the run lives on a: a sees it at its next heartbeat
    await a.jobs.runner.heartbeat()
    await eventually(lambda: a.clock.waiting, "the grace timer")  # the gated job ignores the flag
    await a.clock.advance(5)
    assert (await a.jobs.wait(run_id))["status"] == "cancelled"
