"""Jobs fixtures: a test job registry, instances (services graph + JobService) on a driven clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.cloud import Registry
from backend.config import Settings
from backend.services.wiring import Services, build_services
from jobs.clock import DrivenClock
from jobs.request import JobRequest
from jobs.service import JobService
from jobs.wiring import build_jobs

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Gates:
    """Events the test jobs wait on, so a test decides when a job may go on."""

    events: dict[str, asyncio.Event] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> asyncio.Event:
        return self.events.setdefault(name, asyncio.Event())


def make_registry(gates: Gates) -> Registry:
    registry = Registry()

    def job(name: str) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            from backend.cloud import JobSpec

            registry.jobs[name] = JobSpec(name, handler)
            return handler

        return register

    @job("hello")
    async def hello(req: JobRequest) -> str:
        gates.seen.append(req.job_id)
        return f"hi {req.params.get('name', 'there')}"

    @job("boom")
    async def boom(req: JobRequest) -> None:
        raise RuntimeError("kaboom")

    @job("flaky")
    async def flaky(req: JobRequest) -> str:
        req.log.info("attempt %d", req.attempt)
        if req.attempt < int(req.params.get("succeedOn", 3)):
            raise ValueError(f"not yet (attempt {req.attempt})")
        return f"ok on attempt {req.attempt}"

    @job("hang")
    async def hang(req: JobRequest) -> None:
        await asyncio.Event().wait()

    @job("gated")
    async def gated(req: JobRequest) -> str:
        await req.progress("1/2 rows")
        req.log.info("half way")
        await gates[str(req.params.get("gate", "go"))].wait()
        await req.progress("2/2 rows")
        return "done"

    @job("polite")
    async def polite(req: JobRequest) -> str:
        rounds = 0
        while not req.cancelled:
            rounds += 1
            await asyncio.sleep(0.01)
        return f"stopped after {rounds} rounds"

    @job("sync")
    def sync(req: JobRequest) -> str:
        return "from a thread"

    @job("whoami")
    async def whoami(req: JobRequest) -> str:
        return f"{req.principal.kind}:{req.principal.agent_id}"

    return registry


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def registry(gates: Gates) -> Registry:
    return make_registry(gates)


@dataclass
class Instance:
    """One Ballast instance: its own services graph and jobs, on its own driven clock."""

    services: Services
    jobs: JobService
    clock: DrivenClock

    async def tick(self, when: datetime) -> list[asyncio.Task[str | None]]:
        """Move this instance's clock to ``when`` and fire what is due; the claim-and-run tasks."""
        await self.clock.set(when)
        return await self.jobs.scheduler.tick(when)

    async def run_at(self, when: datetime) -> list[str | None]:
        """Fire what is due at ``when`` and wait for those runs to end; their run ids (None: claimed elsewhere)."""
        return list(await asyncio.gather(*await self.tick(when)))

    async def settle(self) -> None:
        await self.jobs.runner.idle()


@asynccontextmanager
async def open_instance(settings: Settings, registry: Registry, name: str,
                        start: datetime = START) -> AsyncIterator[Instance]:
    services = build_services(settings)
    await services.start()
    clock = DrivenClock(start)
    jobs = build_jobs(services, clock=clock, instance=name, registry=registry, with_builtin_schedules=False)
    try:
        yield Instance(services, jobs, clock)
    finally:
        await jobs.close()
        await services.stop()


@pytest.fixture
async def one(settings: Settings, registry: Registry) -> AsyncIterator[Instance]:
    async with open_instance(settings, registry, "one") as instance:
        yield instance


async def eventually(condition: Callable[[], Any], what: str, rounds: int = 1000) -> None:
    """Let the event loop (and the database) work until ``condition()`` holds."""
    for _ in range(rounds):
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")
