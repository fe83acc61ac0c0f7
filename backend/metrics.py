"""The server's Prometheus metrics: HTTP requests, agent tool calls, job runs, and gauges read at scrape time.

One process keeps these in one registry (LiveQuery keeps its own per hub, rendered beside this one);
an app built twice in one process (tests) adds to the same counters. Under ``ballast serve --workers N``
a scrape reaches one worker of N, so every worker writes its numbers to files in a shared folder
(prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``) and a scrape
adds them up: each gauge says how (sum of the live workers, or the most recent value). Labels are
bounded: route templates (never raw paths), tool and job names the code registers, the policy's
decisions and rules, HTTP status codes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

REGISTRY = CollectorRegistry(auto_describe=True)
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LATENESS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

http_requests = Histogram("ballast_http_request_duration_seconds", "HTTP requests by route template and status.",
                          ["method", "route", "status"], buckets=_SECONDS, registry=REGISTRY)
agent_calls = Counter("ballast_agent_tool_calls", "Agent tool calls by tool, policy decision and rule.",
                      ["tool", "decision", "rule"], registry=REGISTRY)
job_runs = Counter("ballast_job_runs", "Finished job runs by job and final status.", ["job", "status"],
                   registry=REGISTRY)
job_lateness = Histogram("ballast_job_lateness_seconds", "Scheduled fire time to the run's claim, by job.",
                         ["job"], buckets=_LATENESS, registry=REGISTRY)
# one number for the whole database, read by the worker a scrape reaches: its reading is the latest
approvals_pending = Gauge("ballast_approvals_pending", "Agent writes waiting for a human (read at scrape).",
                          registry=REGISTRY, multiprocess_mode="livemostrecent")
# each worker has its own pools: the sum over the workers alive
db_pool = Gauge("ballast_db_pool_connections", "Database pool connections by pool and state (read at scrape).",
                ["pool", "state"], registry=REGISTRY, multiprocess_mode="livesum")
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"
POOL_REFRESH_SECONDS = 5.0


# each (method, route, status) series looked up once: labels() validates and locks on every call (about a sixth
# of a request's access-line cost); the labels are bounded, and a series lives as long as its metric
_request_series: dict[tuple[str, str, int], Histogram] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    series = _request_series.get((method, route, status))
    if series is None:
        series = _request_series[(method, route, status)] = http_requests.labels(method, route, str(status))
    series.observe(seconds)


def count_agent_call(tool: str, decision: object, rule: object) -> None:
    agent_calls.labels(tool, str(decision or "none"), str(rule or "none")).inc()


def set_pool_stats(stats: dict[str, dict[str, int]]) -> None:
    for pool, states in stats.items():
        for state, value in states.items():
            db_pool.labels(pool, state).set(value)


def shared_dir() -> str | None:
    """The folder the workers of ``ballast serve --workers N`` share their numbers through, if any."""
    return os.environ.get(SHARED_DIR) or None


def render_shared(folder: str) -> bytes:
    """Prometheus text for every worker's numbers in ``folder``, LiveQuery's included."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that are gone: one that crashed never took its own away."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), folder)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@asynccontextmanager
async def shared_between_workers(pool_stats: Callable[[], dict[str, dict[str, int]]]) -> AsyncIterator[None]:
    """While the app runs as one worker of several: its pool gauges kept fresh for whichever worker is scraped."""
    folder = shared_dir()
    if folder is None:
        yield
        return
    forget_dead_workers(folder)

    async def refresh() -> None:
        while True:
            set_pool_stats(pool_stats())
            await asyncio.sleep(POOL_REFRESH_SECONDS)

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]
