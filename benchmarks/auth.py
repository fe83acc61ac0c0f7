"""Identity benchmark: log-in throughput against the raw bcrypt rate, and the cost of ACL/CLP checks.

1. bcrypt: verifications per second of one cost-10 hash on this machine, one thread and N threads.
2. logins/s: POST /login through the whole app (in-process ASGI), C concurrent clients; bcrypt runs in
   worker threads, so the bound is the machine's bcrypt rate.
3. ACL/CLP: GET /classes/Doc?limit=1000 over 1,000 objects readable through a role inherited three levels
   deep (user in L3; L2 inherits... L1), with CLP requiresAuthentication and protectedFields, as that user,
   vs the same query with the master key. Median of R runs; the ratio is the identity layer's cost.

    .venv/bin/python -m benchmarks.auth
    .venv/bin/python -m benchmarks.auth --database-uri postgresql://user@127.0.0.1:5432/db
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from backend.app import create_app
from backend.config import Settings
from backend.services.identity.passwords import hash_password_sync, verify_password_sync

APP_ID, MASTER = "bench", "bench-master"
H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER}
console = Console()
cli = typer.Typer(add_completion=False)


def bcrypt_rate(seconds: float, threads: int) -> float:
    hashed = hash_password_sync("bench-password", 10)

    def spin(_: int) -> int:
        done, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            verify_password_sync("bench-password", hashed)
            done += 1
        return done

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(spin, range(threads))) / seconds


async def login_rate(http: httpx.AsyncClient, seconds: float, clients: int) -> float:
    await http.post("/users", json={"username": "bench", "password": "bench-password"}, headers=H)
    done = 0
    end = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < end:
            response = await http.post("/login", json={"username": "bench", "password": "bench-password"}, headers=H)
            assert response.status_code == 200, response.text
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - start)


def ptr(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def acl_world(http: httpx.AsyncClient, objects: int) -> str:
    """1,000 objects readable by role L1; the user is in L3, L3 inherits L2, L2 inherits L1."""
    user = (await http.post("/users", json={"username": "reader", "password": "pw"}, headers=H)).json()
    rel = {"__op": "AddRelation", "objects": [ptr("_User", user["objectId"])]}
    l3 = (await http.post("/roles", json={"name": "L3", "users": rel}, headers=M)).json()["objectId"]
    l2 = (await http.post("/roles", json={"name": "L2", "roles": {"__op": "AddRelation", "objects": [
        ptr("_Role", l3)]}}, headers=M)).json()["objectId"]
    await http.post("/roles", json={"name": "L1", "roles": {"__op": "AddRelation", "objects": [
        ptr("_Role", l2)]}}, headers=M)
    clp = {op: {"requiresAuthentication": True} for op in ("get", "find", "count")} | {
        op: {"*": True} for op in ("create", "update", "delete", "addField")} | {
        "protectedFields": {"*": ["secret"], "role:L1": []}}
    await http.post("/schemas/Doc", json={"className": "Doc", "classLevelPermissions": clp, "fields": {
        "n": {"type": "Number"}, "secret": {"type": "String"}}}, headers=M)
    for start in range(0, objects, 50):
        requests = [{"method": "POST", "path": "/parse/classes/Doc", "body": {
            "n": n, "secret": "s", "ACL": {"role:L1": {"read": True}}}} for n in range(start, min(objects, start + 50))]
        response = await http.post("/batch", json={"requests": requests}, headers=M)
        assert response.status_code == 200, response.text
    return str(user["sessionToken"])


async def query_times(http: httpx.AsyncClient, headers: dict[str, str], runs: int, expect: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = await http.get("/classes/Doc", params={"limit": "1000"}, headers=headers)
        times.append(time.perf_counter() - start)
        assert len(response.json()["results"]) == expect, response.text[:300]
    return statistics.median(times)


async def run(database_uri: str | None, seconds: float, clients: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(application_id=APP_ID, master_key=MASTER, data_dir=Path(folder),
                            database_uri=database_uri)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse", timeout=120) as http:
                logins = await login_rate(http, seconds, clients)
                token = await acl_world(http, 1000)
                user = {**H, "X-Parse-Session-Token": token}
                await query_times(http, user, 2, 1000)  # warm caches (schema, roles)
                as_user = await query_times(http, user, runs, 1000)
                as_master = await query_times(http, M, runs, 1000)
    return {"logins": logins, "user": as_user, "master": as_master}


@cli.command()
def main(database_uri: str = typer.Option(None, help="PostgreSQL URI (default: SQLite in a temp dir)."),
         seconds: float = typer.Option(5.0, help="Seconds per rate measurement."),
         clients: int = typer.Option(4, help="Concurrent log-in clients."),
         runs: int = typer.Option(15, help="Query repetitions (median reported).")) -> None:
    threads = max(1, min(clients, 4))
    one = bcrypt_rate(seconds, 1)
    many = bcrypt_rate(seconds, threads)
    found = asyncio.run(run(database_uri, seconds, clients, runs))
    table = Table("measure", "value")
    table.add_row("bcrypt verify/s (cost 10, 1 thread)", f"{one:.1f}")
    table.add_row(f"bcrypt verify/s ({threads} threads)", f"{many:.1f}")
    table.add_row(f"POST /login per s ({clients} clients)", f"{found['logins']:.1f}")
    table.add_row("logins / raw bcrypt (threads)", f"{found['logins'] / many:.2f}")
    table.add_row("find 1,000 as user (roles 3 deep, ACL+CLP+protected)", f"{found['user'] * 1000:.1f} ms")
    table.add_row("find 1,000 with master key", f"{found['master'] * 1000:.1f} ms")
    table.add_row("ratio user / master", f"{found['user'] / found['master']:.2f}")
    console.print(table)


if __name__ == "__main__":
    cli()
