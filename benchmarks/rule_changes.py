"""Schema-change latency on PostgreSQL with one and with two instances (docs/rule-changes.md).

A CLP change answers only once every other live instance acknowledged it (or its lease ran out): this times N
changes (``PUT /schemas/Bench`` toggling the CLP, master key) on instance A, first alone, then with a second
``ballast serve`` process B on the same database, which reads the class between changes so it has it cached.

    .venv/bin/python -m benchmarks.rule_changes
    .venv/bin/python -m benchmarks.rule_changes --changes 200 --ballast-src /path/to/another/checkout
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import httpx
import typer

from benchmarks.servers import REPO, BallastServer, Keys, fresh_database

cli = typer.Typer(add_completion=False)
OPS = ("find", "count", "get", "create", "update", "delete", "addField")


async def change_times(a: str, b: str | None, keys: Keys, changes: int) -> list[float]:
    """Milliseconds per CLP change on ``a``; between changes ``b`` (if any) reads the class."""
    master = {"X-Parse-Application-Id": keys.app_id, "X-Parse-Master-Key": keys.master_key}
    times: list[float] = []
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(f"{a}/classes/Bench", json={"n": 1}, headers=master)
        for i in range(changes):
            clp = {op: ({"*": True} if i % 2 else {}) for op in OPS}
            if b is not None:
                assert (await http.get(f"{b}/classes/Bench", headers=master)).status_code == 200
            start = time.perf_counter()
            changed = await http.put(f"{a}/schemas/Bench", json={"classLevelPermissions": clp}, headers=master)
            times.append((time.perf_counter() - start) * 1000)
            assert changed.status_code == 200, changed.text[:300]
    return times


def _line(label: str, times: list[float]) -> str:
    deciles = statistics.quantiles(times, n=10)
    return f"{label}: median {statistics.median(times):.1f} ms, p90 {deciles[8]:.1f} ms, max {max(times):.1f} ms"


@cli.command()
def main(
    changes: int = typer.Option(100, min=2, help="CLP changes timed per configuration."),
    port: int = typer.Option(1340, help="Port of instance A; B gets the next one. Never 1337."),
    pg_admin: str = typer.Option("postgresql://postgres@127.0.0.1:5433/postgres",
                                 help="A PostgreSQL cluster; the database ballast_bench_rules is re-created there."),
    ballast_src: Annotated[Path, typer.Option(help="The Ballast checkout to serve (compare versions).")] = REPO,
) -> None:
    keys = Keys()
    uri = asyncio.run(fresh_database(pg_admin, "ballast_bench_rules"))
    with ExitStack() as stack:
        a = stack.enter_context(BallastServer(port, keys, uri, source=ballast_src.resolve()))
        print(_line("1 instance ", asyncio.run(change_times(a.url, None, keys, changes))))
        b = stack.enter_context(BallastServer(port + 1, keys, uri, source=ballast_src.resolve()))
        print(_line("2 instances", asyncio.run(change_times(a.url, b.url, keys, changes))))


if __name__ == "__main__":
    cli()
