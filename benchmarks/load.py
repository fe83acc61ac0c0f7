"""Closed-loop load: N concurrent clients, each sending its next request as soon as the last one answers.

Only requests that start inside the measured window count; the warm-up before
it lets connections open and caches fill. Latency is per request, wall clock.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def is_success(self) -> bool: ...
    @property
    def text(self) -> str: ...


Request = Callable[[int, int], Awaitable[Answer]]  # (client number, request number) -> answer
Tick = Callable[[int], None]


@dataclass
class Stats:
    """One measurement: completed requests in ``seconds``, and their latencies (seconds)."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    cpu: float | None = None  # CPU seconds the server process used in the measured window

    @property
    def cpu_per_request(self) -> float:
        """Server CPU milliseconds per answered request: robust to a busy machine, unlike req/s."""
        return self.cpu * 1000 / self.ok if self.cpu is not None and self.ok else float("nan")

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


@dataclass(frozen=True)
class Summary:
    """The median of several measurements of the same thing."""

    rps: float
    p50: float
    p99: float
    runs: int
    errors: int
    cpu_per_request: float = float("nan")

    @classmethod
    def of(cls, runs: list[Stats]) -> Summary:
        return cls(
            rps=statistics.median(s.rps for s in runs), p50=statistics.median(s.p50 for s in runs),
            p99=statistics.median(s.p99 for s in runs), runs=len(runs), errors=sum(s.errors for s in runs),
            cpu_per_request=statistics.median(s.cpu_per_request for s in runs),
        )


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its live children (server workers) have used so far."""
    total = 0
    for member in (pid, *_children(pid)):
        try:
            with open(f"/proc/{member}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # gone since it was listed
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *_children(int(child))]
    return found


async def measure(
    request: Request, *, clients: int, duration: float, warmup: float, tick: Tick | None = None,
    pid: int | None = None,
) -> Stats:
    """Run ``clients`` loops of ``request`` for warmup + duration seconds; statistics of the measured part."""
    stats = Stats(seconds=duration)
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    stop = start + duration
    if pid is not None:
        cpu: dict[str, float] = {}
        loop.call_at(start, lambda: cpu.__setitem__("start", process_cpu(pid)))
        loop.call_at(stop, lambda: setattr(stats, "cpu", process_cpu(pid) - cpu["start"]))
    counter = iter(range(1 << 62))

    async def one_client(number: int) -> None:
        while (began := loop.time()) < stop:
            sent = time.perf_counter()
            try:
                response = await request(number, next(counter))
                failed = None if response.is_success else f"{response.status_code} {response.text[:200]}"
            except (httpx.HTTPError, OSError, TimeoutError) as error:
                failed = f"{type(error).__name__}: {error}"
            if began < start:
                continue
            if failed is None:
                stats.latencies.append(time.perf_counter() - sent)
            else:
                stats.errors += 1
                stats.first_error = stats.first_error or failed
            if tick is not None:
                tick(1)

    await asyncio.gather(*(one_client(number) for number in range(clients)))
    return stats
