"""A Ballast instance in its own process that starts a long job and waits to be killed (SIGKILL) mid-run.

    python -m tests.jobs.crashing_instance <database_uri> <data_dir> manual|scheduled

Prints the run id once the run has recorded progress, then sleeps.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from backend.cloud import JobSpec, Registry
from backend.config import Settings
from backend.context import RequestContext
from backend.services.wiring import build_services
from jobs.request import JobRequest
from jobs.wiring import build_jobs


async def sleepy(req: JobRequest) -> None:
    await req.progress("working")
    await asyncio.sleep(3600)


async def main(database_uri: str, data_dir: str, mode: str) -> None:
    settings = Settings(application_id="test-app", master_key="test-master-key", database_uri=database_uri,
                        data_dir=Path(data_dir), job_lease_seconds=30)
    services = build_services(settings)
    await services.start()
    registry = Registry()
    registry.jobs["sleepy"] = JobSpec("sleepy", sleepy)
    jobs = build_jobs(services, instance="doomed", registry=registry, with_builtin_schedules=False)
    master = RequestContext.system()
    if mode == "manual":
        run_id = await jobs.start(master, "sleepy", {})
    else:
        created = await jobs.create_schedule(master, {"jobName": "sleepy", "intervalSeconds": 3600, "retries": 1,
                                                      "retryBackoff": 1})
        await jobs.scheduler.refresh()
        await jobs.scheduler.tick(jobs.clock.now())
        while not jobs.runner.active:
            await asyncio.sleep(0.01)
        run_id = next(iter(jobs.runner.active))
        assert created["objectId"]
    while ((await jobs.records.get_run(run_id)) or {}).get("progress") != "working":
        await asyncio.sleep(0.01)
    print(run_id, flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
