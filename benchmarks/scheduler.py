"""Scheduler benchmark: N schedules each firing every P seconds, for D seconds, on PostgreSQL with two instances.

Each instance is its own process (its own services graph and scheduler, as two servers would be) on ONE
throwaway PostgreSQL cluster. Reports fires/s achieved, lateness (scheduled fire time -> job started)
p50/p99, and duplicates (fires run more than once; must be 0), missed fires.

    .venv/bin/python -m benchmarks.scheduler                       # 1,000 x 5 s for 60 s (200 fires/s)
    .venv/bin/python -m benchmarks.scheduler --schedules 200 --seconds 20
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from backend.cloud import JobSpec, Registry
from backend.config import Settings
from backend.context import RequestContext
from backend.services.wiring import build_services
from jobs.request import JobRequest
from jobs.wiring import build_jobs

console = Console()
cli = typer.Typer(add_completion=False)


async def noop(req: JobRequest) -> None:
    return None


def bench_settings(database_uri: str, data_dir: Path) -> Settings:
    return Settings(application_id="bench", master_key="bench-master", database_uri=database_uri,
                    data_dir=data_dir, job_refresh_seconds=5)


async def instance(database_uri: str, data_dir: str, name: str) -> None:
    """One server's worth of jobs: run the scheduler until SIGTERM."""
    services = build_services(bench_settings(database_uri, Path(data_dir)))
    await services.start()
    registry = Registry()
    registry.jobs["noop"] = JobSpec("noop", noop)
    jobs = build_jobs(services, instance=name, registry=registry, with_builtin_schedules=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await jobs.open()
    await stop.wait()
    await jobs.close()
    await services.stop()


async def create_schedules(database_uri: str, data_dir: Path, count: int, period: float, start: datetime) -> None:
    services = build_services(bench_settings(database_uri, data_dir))
    await services.start()
    registry = Registry()
    registry.jobs["noop"] = JobSpec("noop", noop)
    jobs = build_jobs(services, registry=registry, with_builtin_schedules=False)
    master = RequestContext.system()
    for n in range(count):  # spread evenly over one period: a steady count/period fires per second
        first = start + timedelta(seconds=period * n / count)
        await jobs.create_schedule(master, {"jobName": "noop", "intervalSeconds": period, "maxConcurrency": 1,
                                            "startAfter": first.isoformat()})
    await services.stop()


async def measure(database_uri: str, data_dir: Path, start: datetime, end: datetime) -> dict[str, float]:
    services = build_services(bench_settings(database_uri, data_dir))
    await services.start()
    jobs = build_jobs(services, registry=Registry(), with_builtin_schedules=False)
    runs: list[dict[str, object]] = []
    window = {"$gte": {"__type": "Date", "iso": start.isoformat()}, "$lt": {"__type": "Date", "iso": end.isoformat()}}
    last = ""
    while True:  # every run record of the window, a page at a time
        page = await jobs.records.find_runs(
            {"scheduledAt": window, "objectId": {"$gt": last}}, order="objectId", limit=1000,
            keys="scheduleId,scheduledAt,startedAt,status,instance")
        runs += page
        if len(page) < 1000:
            break
        last = str(page[-1]["objectId"])
    await services.stop()
    return summarise(runs, start, end)


def summarise(runs: list[dict[str, object]], start: datetime, end: datetime) -> dict[str, float]:
    def at(value: object) -> datetime:
        assert isinstance(value, dict)
        return datetime.fromisoformat(str(value["iso"]).replace("Z", "+00:00"))

    fires = Counter((str(r["scheduleId"]), str(r["scheduledAt"])) for r in runs)
    lateness = sorted((at(r["startedAt"]) - at(r["scheduledAt"])).total_seconds() * 1000 for r in runs)
    seconds = (end - start).total_seconds()
    return {
        "runs": len(runs), "fires_per_s": len(fires) / seconds,
        "duplicates": sum(n - 1 for n in fires.values() if n > 1),
        "p50_ms": statistics.median(lateness) if lateness else float("nan"),
        "p99_ms": lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] if lateness else float("nan"),
        "max_ms": lateness[-1] if lateness else float("nan"),
        "succeeded": sum(1 for r in runs if r.get("status") == "succeeded"),
        "skipped": sum(1 for r in runs if r.get("status") == "skipped"),
        **{f"by_{k}": v for k, v in Counter(str(r.get("instance")) for r in runs).items()},
    }


@cli.command()
def main(schedules: int = 1000, period: float = 5.0, seconds: float = 60.0, warmup: float = 30.0,
         database_uri: str = typer.Option(None, help="Use this PostgreSQL instead of a throwaway cluster.")) -> None:
    base = Path(tempfile.mkdtemp(prefix="ballast-bench-sched-"))
    cluster = None
    if database_uri is None:
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="ballast-bench-pg-")))  # chowned to postgres
        cluster.start()
        database_uri = cluster.create_database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=warmup)
        began = time.perf_counter()
        asyncio.run(create_schedules(database_uri, base / "data", schedules, period, start))
        console.print(f"{schedules} schedules created in {time.perf_counter() - began:.1f}s; window starts {start}")
        for name in ("a", "b"):
            processes.append(subprocess.Popen([sys.executable, "-m", "benchmarks.scheduler", "instance", database_uri,
                                               str(base / "data"), name]))
        end = start + timedelta(seconds=seconds)
        time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + period + 3)  # let the last fires finish
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        result = asyncio.run(measure(database_uri, base / "data", start, end))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(cluster.base, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    expected = schedules * seconds / period
    table = Table("measure", "value", title=f"{schedules} schedules x every {period:g}s for {seconds:g}s, 2 instances")
    table.add_row("fires expected", f"{expected:.0f} ({expected / seconds:.0f}/s)")
    for key, value in result.items():
        table.add_row(key, f"{value:.1f}" if isinstance(value, float) else str(value))
    console.print(table)


if __name__ == "__main__":
    if sys.argv[1:2] == ["instance"]:
        asyncio.run(instance(*sys.argv[2:5]))
    else:
        cli()
