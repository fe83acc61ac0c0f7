"""CRUD benchmark: Ballast (SQLite, PostgreSQL) and Parse Server 9 side by side, in one run.

Three operations on a class of N objects (default 10,000) with an index on
``bucket``: create, get by id, and an indexed query (``where={"bucket": k}``,
about N/1000 results). C concurrent clients (default 32) each send their next
request as soon as the previous one answers, for a fixed time; each
measurement is repeated and the medians are reported, with the ratios
Ballast / Parse Server. Ballast's PostgreSQL database lives in the anchor's
cluster, so both servers use the same PostgreSQL.

    .venv/bin/python -m benchmarks.crud --help
    .venv/bin/python -m benchmarks.crud --repeats 3 --duration 5
    .venv/bin/python -m benchmarks.crud --targets ballast-pg,parse --workers 1,2   # ballast serve --workers

One Python process serves from one core; ``--workers 2`` runs Ballast as
``ballast serve --workers 2`` (two processes, Redis between them), the way it
is deployed on a multi-core machine. The CPU column counts every process.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks import bare, dataset, report
from benchmarks.load import Request, Stats, Summary, measure
from benchmarks.rawhttp import RawClient, Reply
from benchmarks.servers import (
    ANCHOR_PORTS,
    REPO,
    BallastServer,
    BareServer,
    Keys,
    ParseCluster,
    Ports,
    RedisServer,
    ScratchDatabase,
    Target,
    anchor_pid,
    ensure_anchor,
    run_ports,
)

ALL_TARGETS = ("ballast-sqlite", "ballast-pg", "parse", "bare")
ALL_OPS = ("create", "get", "query")
LABELS = {"ballast-sqlite": "Ballast SQLite", "ballast-pg": "Ballast PG", "parse": "Parse Server PG",
          "bare": "bare Starlette+asyncpg"}
console = Console(stderr=True)
cli = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0] if __doc__ else None)


def requests_for(op: str, target: Target, ids: list[str], pool: list[RawClient]) -> Request:
    """A request factory for one operation (URLs prepared up front: the client should cost little)."""
    class_path = f"{urlsplit(target.url).path}/classes/{dataset.CLASS}"
    if op == "create":
        async def create(client: int, n: int) -> Reply:
            return await pool[client].post(class_path, orjson.dumps(dataset.new_object(n, bucket=-1)))
        return create
    if op == "get":
        paths = [f"{class_path}/{object_id}" for object_id in ids]

        async def get(client: int, n: int) -> Reply:
            return await pool[client].get(random.choice(paths))
        return get
    queries = [f"{class_path}?" + urlencode({"where": json.dumps({"bucket": k})}) for k in range(dataset.BUCKETS)]

    async def query(client: int, n: int) -> Reply:
        return await pool[client].get(random.choice(queries))
    return query


async def prepare(target: Target, objects: int) -> list[str]:
    """Fresh class, index and objects on one server; prints what it made."""
    if target.name == "bare":  # no REST API to seed through: the same rows, straight into its table
        assert target.sql_url is not None
        ids = await bare.seed(target.sql_url, objects, dataset.BUCKETS)
        console.print(f"  {target.label}: {len(ids):,} rows copied in, index on bucket")
        return ids
    async with httpx.AsyncClient(timeout=60) as client:
        if not await dataset.reset_class(client, target):
            first = await client.post(f"{target.url}/classes/{dataset.CLASS}", headers=target.headers(master=True),
                                      content=orjson.dumps(dataset.new_object(0, bucket=-1)))
            first.raise_for_status()
            await dataset.sql_index(target)
            console.print(f"  {target.label}: no schema API; index made in SQL")
        ids = await asyncio.wait_for(dataset.seed(client, target, objects), timeout=900)
        total = await dataset.count_objects(client, target)
        sample = await client.get(f"{target.url}/classes/{dataset.CLASS}", headers=target.headers(),
                                  params={"where": '{"bucket":7}'})
        sample.raise_for_status()
    found = await dataset.indexes(target)
    console.print(f"  {target.label}: {total:,} objects, query bucket=7 -> {len(sample.json()['results'])} results, "
                  f"indexes: {[d for d in found if 'bucket' in d] or found}")
    return ids


async def run_all(targets: list[Target], ops: list[str], objects: int, clients: int, duration: float,
                  warmup: float, repeats: int) -> dict[str, dict[str, list[Stats]]]:
    console.print(f"[bold]Preparing {objects:,} objects on each server[/]")
    ids = {target.name: await prepare(target, objects) for target in targets}
    runs: dict[str, dict[str, list[Stats]]] = {op: {t.name: [] for t in targets} for op in ops}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rps]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("all measurements", total=repeats * len(targets) * len(ops), rps="")
        for round_no in range(1, repeats + 1):
            for target in targets:  # interleaved, so slow drift on a busy machine spreads over all servers
                pool = [RawClient(target.url, target.headers()) for _ in range(clients)]
                try:
                    for op in ops:
                        request = requests_for(op, target, ids[target.name], pool)
                        stats = await _one(progress, request, f"round {round_no} {target.label} {op}",
                                           clients=clients, duration=duration, warmup=warmup, pid=target.pid)
                        runs[op][target.name].append(stats)
                        progress.advance(overall)
                finally:
                    await asyncio.gather(*(client.aclose() for client in pool))
    return runs


async def _one(progress: Progress, request: Request, title: str, *, clients: int, duration: float,
               warmup: float, pid: int | None) -> Stats:
    task = progress.add_task(title, total=None, rps="")
    stats = await measure(request, clients=clients, duration=duration, warmup=warmup, pid=pid,
                          tick=lambda n: progress.advance(task, n))
    progress.update(task, rps=f"{stats.rps:,.0f} req/s p50 {stats.p50:.1f} ms p99 {stats.p99:.1f} ms "
                    f"cpu {stats.cpu_per_request:.2f} ms/req", total=1, completed=1)
    if stats.errors:
        console.print(f"[red]{title}: {stats.errors} errors[/], first: {stats.first_error}")
    return stats


def start_servers(stack: ExitStack, names: list[str], keys: Keys, port: Ports, pg_admin: str, parse_url: str,
                  master: bool, source: Path, workers: list[int]) -> list[Target]:
    """The servers, each Ballast target once per worker count (``ballast-pg-x2``: two processes)."""
    targets: list[Target] = []
    redis = stack.enter_context(RedisServer(port(100))).url if max(workers) > 1 else None
    for name in names:
        if name == "bare":
            ensure_anchor(parse_url)  # its PostgreSQL cluster
            bare_uri = stack.enter_context(ScratchDatabase(pg_admin, "ballast_bench_bare"))
            bare_server = stack.enter_context(BareServer(port(50), bare_uri))
            target = Target(name, LABELS[name], bare_server.url, keys, master, sql_url=bare_uri)
            target.pid = bare_server.process.pid if bare_server.process else None
            targets.append(target)
            continue
        if name == "parse":
            targets += _parse_targets(stack, keys, port, pg_admin, parse_url, master, workers)
            continue
        for count in workers:
            scratch = ScratchDatabase(pg_admin, f"ballast_bench_{count}")
            uri = stack.enter_context(scratch) if name == "ballast-pg" else None
            server = stack.enter_context(BallastServer(port(len(targets)), keys, uri, source=source, workers=count,
                                                       redis_url=redis if count > 1 else None))
            sqlite = server.data_dir / "ballast.sqlite3" if uri is None else None
            key, label = (name, LABELS[name]) if count == 1 else (f"{name}-x{count}", f"{LABELS[name]} ×{count}")
            target = Target(key, label, server.url, keys, master, sql_url=uri, sqlite_path=sqlite)
            target.pid = server.process.pid if server.process else None
            console.print(f"{target.label}: {server.url} (pid {target.pid}, {count} worker(s))")
            targets.append(target)
    return targets


def _parse_targets(stack: ExitStack, keys: Keys, port: Ports, pg_admin: str, parse_url: str, master: bool,
                   workers: list[int]) -> list[Target]:
    """The anchor Parse Server (one process), plus Parse Server in cluster mode for each worker count above 1."""
    ensure_anchor(parse_url)
    anchor = Target("parse", LABELS["parse"], parse_url, keys, master, sql_url=pg_admin.rsplit("/", 1)[0] + "/parse")
    anchor.pid = anchor_pid()
    found = [anchor]
    for count in (count for count in workers if count > 1):
        uri = stack.enter_context(ScratchDatabase(pg_admin, f"parse_cluster_{count}"))
        server = stack.enter_context(ParseCluster(port(60 + count), uri, count, keys))
        target = Target(f"parse-x{count}", f"{LABELS['parse']} ×{count}", server.url, keys, master, sql_url=uri)
        target.pid = server.process.pid if server.process else None
        console.print(f"{target.label}: {server.url} (pid {target.pid}, {count} node processes)")
        found.append(target)
    return found


def _counts(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter("workers: positive whole numbers, comma-separated, e.g. 1,2")
    return counts


def _split(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in allowed]
    if unknown or not chosen:
        raise typer.BadParameter(f"{what}: choose from {', '.join(allowed)}")
    return chosen


@cli.command()
def main(
    targets: str = typer.Option(",".join(ALL_TARGETS), help="Servers, comma-separated: " + ", ".join(ALL_TARGETS)),
    ops: str = typer.Option(",".join(ALL_OPS), help="Operations, comma-separated: " + ", ".join(ALL_OPS)),
    objects: int = typer.Option(10_000, min=1, help="Objects seeded into the class."),
    clients: int = typer.Option(32, min=1, help="Concurrent clients."),
    duration: float = typer.Option(5.0, min=0.5, max=300, help="Seconds measured per operation and round."),
    warmup: float = typer.Option(1.0, min=0, max=60, help="Seconds of load before each measurement."),
    repeats: int = typer.Option(3, min=1, max=20, help="Rounds; the table shows the median of the rounds."),
    port: int = typer.Option(0, help="First Ballast port (SQLite; PostgreSQL gets the next one). Never 1337. "
                             "0 (the default): free ports, chosen for this run."),
    parse_url: str = typer.Option("http://127.0.0.1:1337/parse", help="The anchor Parse Server."),
    pg_admin: str = typer.Option("postgresql://postgres@127.0.0.1:5433/postgres",
                                 help="The anchor's PostgreSQL cluster; each run creates its own databases "
                                 "there (ballast_bench_1_<random>...) and drops them at its end."),
    master: bool = typer.Option(False, help="Send the master key instead of the REST API key."),
    ballast_src: Annotated[Path, typer.Option(help="The Ballast checkout to serve (compare versions).")] = REPO,
    json_out: Annotated[Path | None, typer.Option(help="Also write all runs and medians here.")] = None,
    workers: str = typer.Option("1", help="Ballast server processes, comma-separated counts to compare, e.g. 1,2 "
                                "(above 1 a throwaway redis-server is started, as ballast serve --workers needs)."),
) -> None:
    """Run the benchmark and print the table (medians) with Ballast / Parse Server ratios."""
    names, chosen_ops = _split(targets, ALL_TARGETS, "targets"), _split(ops, ALL_OPS, "ops")
    if port and (port in ANCHOR_PORTS or port + 1 in ANCHOR_PORTS):
        raise typer.BadParameter("ports 1337 and 5433 belong to the anchor")
    keys = Keys()
    with ExitStack() as stack:
        servers = start_servers(stack, names, keys, run_ports(port), pg_admin, parse_url, master, ballast_src.resolve(),
                                _counts(workers))
        runs = _run(servers, chosen_ops, objects, clients, duration, warmup, repeats)
    results = {op: {name: Summary.of(stats) for name, stats in row.items()} for op, row in runs.items()}
    labels = {target.name: target.label for target in servers}
    console.print(report.rich_table(results, labels))
    print(report.markdown(results, labels))
    if json_out is not None:
        raw = {op: {name: [{"rps": s.rps, "p50": s.p50, "p99": s.p99, "errors": s.errors,
                            "cpu_ms_per_request": s.cpu_per_request} for s in stats]
                    for name, stats in row.items()} for op, row in runs.items()}
        json_out.write_text(json.dumps(report.as_json(results, raw), indent=2))


def _run(targets: list[Target], ops: list[str], objects: int, clients: int, duration: float, warmup: float,
         repeats: int) -> dict[str, dict[str, list[Stats]]]:
    coroutine = run_all(targets, ops, objects, clients, duration, warmup, repeats)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    sys.exit(cli())
