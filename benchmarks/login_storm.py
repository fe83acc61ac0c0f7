"""Log-in storm: the write rate of an unrelated writer while clients send wrong passwords.

A writer creates objects one after another (W concurrent writers) for S seconds, first alone, then while C
clients send wrong-password log-ins as fast as they are answered. A log-in that verified bcrypt inside a write
transaction held the SQLite writer for the hash's tens of milliseconds; outside, the writer barely notices.
The auth rate limit is switched off here so the storm reaches bcrypt.

    .venv/bin/python -m benchmarks.login_storm
    .venv/bin/python -m benchmarks.login_storm --database-uri postgresql://user@127.0.0.1:5432/db
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import typer

from backend.app import create_app
from backend.config import Settings

APP_ID, MASTER = "bench", "bench-master"
H = {"X-Parse-Application-Id": APP_ID}
cli = typer.Typer(add_completion=False)


async def write_rate(http: httpx.AsyncClient, seconds: float, writers: int) -> tuple[float, float]:
    """(writes per second, p99 latency in ms) of ``writers`` clients creating objects for ``seconds``."""
    latencies: list[float] = []
    end = time.perf_counter() + seconds

    async def writer() -> None:
        while time.perf_counter() < end:
            start = time.perf_counter()
            response = await http.post("/classes/Storm", json={"n": 1}, headers=H)
            assert response.status_code == 201, response.text[:300]
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(writer() for _ in range(writers)))
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else 0.0
    return len(latencies) / seconds, p99 * 1000


async def storm(http: httpx.AsyncClient, stop: asyncio.Event, clients: int) -> int:
    tries = 0

    async def client() -> None:
        nonlocal tries
        while not stop.is_set():
            response = await http.post("/login", json={"username": "victim", "password": "wrong"}, headers=H)
            assert response.status_code == 404, response.text[:300]
            tries += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return tries


async def run(database_uri: str | None, seconds: float, writers: int, clients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(application_id=APP_ID, master_key=MASTER, data_dir=Path(folder),
                            database_uri=database_uri, rate_limit=[])
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse", timeout=120) as http:
                await http.post("/users", json={"username": "victim", "password": "right"}, headers=H)
                await write_rate(http, 1.0, writers)  # warm up (schema, connections)
                alone, alone_p99 = await write_rate(http, seconds, writers)
                stop = asyncio.Event()
                logins = asyncio.create_task(storm(http, stop, clients))
                during, during_p99 = await write_rate(http, seconds, writers)
                stop.set()
                tries = await logins
    return {"alone": alone, "alone_p99": alone_p99, "during": during, "during_p99": during_p99,
            "logins": tries / seconds}


@cli.command()
def main(database_uri: str = typer.Option(None, help="PostgreSQL URI (default: SQLite in a temp dir)."),
         seconds: float = typer.Option(5.0, help="Seconds per measurement."),
         writers: int = typer.Option(4, help="Concurrent writers."),
         clients: int = typer.Option(8, help="Concurrent wrong-password log-in clients.")) -> None:
    found = asyncio.run(run(database_uri, seconds, writers, clients))
    print(f"writes/s alone {found['alone']:.0f} (p99 {found['alone_p99']:.0f} ms); "
          f"during the storm {found['during']:.0f} (p99 {found['during_p99']:.0f} ms); "
          f"wrong log-ins/s {found['logins']:.1f}")


if __name__ == "__main__":
    cli()
