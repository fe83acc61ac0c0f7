"""Health under the worst request: how long ``/parse/health`` and a get by id wait while the heaviest requests
Ballast accepts are served, on a real ``ballast serve`` process.

The worst requests are the largest the bounded-work limits allow (``backend/services/data/query_limits.py``): a find
with a 10,000-value ``$in`` and a ``$regex``, sorted on an unindexed field, with the maximum limit; a 1,000-clause
``$or``; a count over the whole class with a ``$regex``; and the biggest body (a JSON object near the upload limit).
W clients send them back to back for S seconds while one prober asks for health and for one object every 50 ms.
A stall (blocking work on the event loop) shows as a probe that waits as long as a worst request takes.

    .venv/bin/python -m benchmarks.worst_request
    .venv/bin/python -m benchmarks.worst_request --database-uri postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import orjson
import typer

from benchmarks.servers import BallastServer, Keys, fresh_database

cli = typer.Typer(add_completion=False)
ROWS = 20_000


def worst_requests(body_mb: int) -> dict[str, tuple[str, str, Any]]:
    """name -> (method, path, JSON body) of each heavy request, sent as the JS SDK sends finds (POST, _method)."""
    ids = [f"id{n:07d}" for n in range(10_000)]
    find = {"_method": "GET", "where": {"tag": {"$in": ids}, "text": {"$regex": "a.*b.*c"}}, "order": "-score",
            "limit": 10_000}
    clauses = {"_method": "GET", "where": {"$or": [{"score": n} for n in range(1_000)]}, "limit": 1000}
    count = {"_method": "GET", "where": {"text": {"$regex": "(x|y)+z"}}, "count": 1, "limit": 0}
    return {
        "in_10k_regex_order": ("POST", "/classes/Worst", find),
        "or_1000": ("POST", "/classes/Worst", clauses),
        "count_regex": ("POST", "/classes/Worst", count),
        "body_mb": ("POST", "/classes/Big", {"blob": "x" * (body_mb * 1024 * 1024)}),
    }


async def seed(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """ROWS objects of class Worst (through batches); the id of one of them."""
    first = ""
    for start in range(0, ROWS, 50):
        requests = [{"method": "POST", "path": "/parse/classes/Worst",
                     "body": {"tag": f"id{n:07d}", "score": n % 2000, "text": "abc" * (n % 40) + "z"}}
                    for n in range(start, start + 50)]
        answer = await http.post("/batch", json={"requests": requests}, headers=headers, timeout=120)
        assert answer.status_code == 200, answer.text[:300]
        first = first or answer.json()[0]["success"]["objectId"]
    return first


async def probe(http: httpx.AsyncClient, headers: dict[str, str], object_id: str, stop: asyncio.Event,
                waits: dict[str, list[float]]) -> None:
    while not stop.is_set():
        for name, path in (("health", "/health"), ("get", f"/classes/Worst/{object_id}")):
            started = time.perf_counter()
            answer = await http.get(path, headers=headers, timeout=120)
            assert answer.status_code == 200, answer.text[:300]
            waits[name].append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def hammer(http: httpx.AsyncClient, headers: dict[str, str], request: tuple[str, str, Any],
                 until: float, took: list[float]) -> None:
    method, path, body = request
    content = orjson.dumps(body)
    while time.perf_counter() < until:
        started = time.perf_counter()
        answer = await http.request(method, path, content=content, timeout=300,
                                    headers=headers | {"Content-Type": "application/json"})
        assert answer.status_code in (200, 201), answer.text[:300]
        took.append((time.perf_counter() - started) * 1000)


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    p99 = statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
    return f"n={len(values)} p50={statistics.median(values):.1f} p99={p99:.1f} max={max(values):.1f} ms"


async def run(url: str, keys: Keys, seconds: float, workers: int, body_mb: int) -> None:
    headers = {"X-Parse-Application-Id": keys.app_id, "X-Parse-Master-Key": keys.master_key}
    limits = httpx.Limits(max_connections=workers + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits) as http, \
            httpx.AsyncClient(base_url=url) as prober:
        object_id = await seed(http, headers)
        for name, request in worst_requests(body_mb).items():
            waits: dict[str, list[float]] = {"health": [], "get": []}
            stop = asyncio.Event()
            probing = asyncio.create_task(probe(prober, headers, object_id, stop, waits))
            await asyncio.sleep(1)
            idle = {key: list(values) for key, values in waits.items()}
            took: list[float] = []
            until = time.perf_counter() + seconds
            await asyncio.gather(*(hammer(http, headers, request, until, took) for _ in range(workers)))
            stop.set()
            await probing
            loaded = {key: values[len(idle[key]):] for key, values in waits.items()}
            print(f"{name}: worst request {summary(took)}")
            for key in ("health", "get"):
                print(f"  {key:6} idle {summary(idle[key])} | during {summary(loaded[key])}")


@cli.command()
def main(database_uri: str = typer.Option(None, help="PostgreSQL admin URL (a fresh database is made in it)."),
         seconds: float = 10.0, workers: int = 2, body_mb: int = 15, port: int = 18_337) -> None:
    keys = Keys()
    uri = asyncio.run(fresh_database(database_uri, "ballast_worst")) if database_uri else None
    with BallastServer(port=port, keys=keys, database_uri=uri) as server:
        asyncio.run(run(server.url, keys, seconds, workers, body_mb))


if __name__ == "__main__":
    cli()
