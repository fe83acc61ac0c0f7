"""Gateway overhead: the same read and write through the agent tool endpoint and the plain Parse endpoint.

One Ballast server process; C concurrent clients (default 32), closed loop.
read:  GET /parse/classes/Item/{id}          vs  POST /agent/v1/read/get_object
write: PUT /parse/classes/Item/{id} {n: k}   vs  POST /agent/v1/write/update_object (audit record included)
Each client works on its own object (no row contention). The plain endpoint
uses a user's session token when the server has users, the master key
otherwise. Medians over the rounds; the target (issue 19) is tool p50 <= 1.1x plain p50.
All clients share one loopback address, so the server runs with a per-address
tool rate far above what the run can reach (the default, 1,200/minute, would
answer most calls 429); a run with any error prints no ratio.

    .venv/bin/python -m benchmarks.gateway --duration 5 --repeats 3
    .venv/bin/python -m benchmarks.gateway --engine pg   # Ballast's database in the anchor's PostgreSQL cluster
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys

import httpx
import orjson
import typer
from rich.console import Console
from rich.table import Table

from benchmarks.load import Request, Stats, measure
from benchmarks.rawhttp import RawClient, Reply
from benchmarks.servers import BallastServer, Keys, fresh_database

CLASS = "Item"
console = Console(stderr=True)
cli = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0] if __doc__ else None)


async def prepare(url: str, keys: Keys, clients: int) -> tuple[list[str], dict[str, str], str]:
    """Objects (one per client), the plain endpoint's headers, and an agent token."""
    master = {"X-Parse-Application-Id": keys.app_id, "X-Parse-Master-Key": keys.master_key,
              "Content-Type": "application/json"}
    root = url.rsplit("/parse", 1)[0]
    async with httpx.AsyncClient(timeout=60) as http:
        ids = []
        for n in range(clients):
            made = await http.post(f"{url}/classes/{CLASS}", headers=master, content=orjson.dumps({"n": n}))
            made.raise_for_status()
            ids.append(made.json()["objectId"])
        plain = await _plain_headers(http, url, keys, master)
        grants = {"name": "bench-" + secrets.token_hex(3), "grants": ["get_object", "update_object"]}
        agent = await http.post(f"{root}/agent/v1/admin/agents", headers=master, json=grants)
        agent.raise_for_status()
        unlimited = {"agentRate": "100000000/minute",
                     "toolRates": {"get_object": "100000000/minute", "update_object": "100000000/minute"},
                     "runCalls": 100_000_000, "runWrites": 100_000_000}
        (await http.put(f"{root}/agent/v1/admin/policy", headers=master, json=unlimited)).raise_for_status()
    return ids, plain, agent.json()["token"]


async def _plain_headers(http: httpx.AsyncClient, url: str, keys: Keys, master: dict[str, str]) -> dict[str, str]:
    base = {"X-Parse-Application-Id": keys.app_id, "Content-Type": "application/json"}
    signed = await http.post(f"{url}/users", headers=base | {"X-Parse-REST-API-Key": keys.rest_key},
                             json={"username": "bench-" + secrets.token_hex(3), "password": "bench-pass-1"})
    if signed.status_code == 201 and signed.json().get("sessionToken"):
        console.print("plain endpoint: session token of a user")
        return base | {"X-Parse-REST-API-Key": keys.rest_key, "X-Parse-Session-Token": signed.json()["sessionToken"]}
    console.print("plain endpoint: master key (no user sign-up on this server)")
    return master


def requests(url: str, ids: list[str], plain: list[RawClient], agent: list[RawClient]) -> dict[str, Request]:
    path = url.split("://", 1)[1].split("/", 1)[1]
    parse_path, tools_path = f"/{path}/classes/{CLASS}", "/agent/v1"

    async def plain_read(client: int, n: int) -> Reply:
        return await plain[client].get(f"{parse_path}/{ids[client]}")

    async def tool_read(client: int, n: int) -> Reply:
        body = orjson.dumps({"className": CLASS, "objectId": ids[client]})
        return await agent[client].post(f"{tools_path}/read/get_object", body)

    async def plain_write(client: int, n: int) -> Reply:
        return await plain[client].request("PUT", f"{parse_path}/{ids[client]}", orjson.dumps({"n": n}))

    async def tool_write(client: int, n: int) -> Reply:
        body = orjson.dumps({"className": CLASS, "objectId": ids[client], "fields": {"n": n}})
        return await agent[client].post(f"{tools_path}/write/update_object", body)

    return {"read plain": plain_read, "read tool": tool_read, "write plain": plain_write, "write tool": tool_write}


async def run(url: str, keys: Keys, clients: int, duration: float, warmup: float, repeats: int,
              pid: int | None) -> dict[str, list[Stats]]:
    ids, plain_headers, token = await prepare(url, keys, clients)
    root = url.rsplit("/parse", 1)[0]
    plain = [RawClient(root, plain_headers) for _ in range(clients)]
    agent = [RawClient(root, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
             for _ in range(clients)]
    runs: dict[str, list[Stats]] = {}
    try:
        for round_no in range(1, repeats + 1):
            for name, request in requests(url, ids, plain, agent).items():  # interleaved against drift
                stats = await measure(request, clients=clients, duration=duration, warmup=warmup, pid=pid)
                runs.setdefault(name, []).append(stats)
                console.print(f"round {round_no} {name}: p50 {stats.p50:.2f} ms, {stats.rps:.0f} req/s, "
                              f"errors {stats.errors} {stats.first_error or ''}")
    finally:
        await asyncio.gather(*(c.aclose() for c in plain + agent))
    return runs


def table(runs: dict[str, list[Stats]]) -> Table:
    out = Table("operation", "p50 ms", "p99 ms", "req/s", "CPU ms/req", "errors", "p50 tool/plain")
    for name, stats in runs.items():
        p50 = statistics.median(s.p50 for s in stats)
        kind = name.split()[0]
        base = statistics.median(s.p50 for s in runs[f"{kind} plain"])
        errors = sum(s.errors for s in stats) + sum(s.errors for s in runs[f"{kind} plain"])
        ratio = ("" if not name.endswith("tool") else f"{p50 / base:.2f}x" if not errors else "none: errors")
        out.add_row(name, f"{p50:.2f}", f"{statistics.median(s.p99 for s in stats):.2f}",
                    f"{statistics.median(s.rps for s in stats):.0f}",
                    f"{statistics.median(s.cpu_per_request for s in stats):.2f}", str(sum(s.errors for s in stats)),
                    ratio)
    return out


@cli.command()
def main(
    engine: str = typer.Option("sqlite", help="sqlite, or pg (a database in the anchor's PostgreSQL cluster)."),
    clients: int = typer.Option(32, min=1),
    duration: float = typer.Option(5.0, min=0.5, max=300),
    warmup: float = typer.Option(1.0, min=0, max=60),
    repeats: int = typer.Option(3, min=1, max=20),
    port: int = typer.Option(1340, help="Ballast's port (never 1337 or 5433)."),
    pg_admin: str = typer.Option("postgresql://postgres@127.0.0.1:5433/postgres"),
) -> None:
    """Run and print the table (medians of the rounds)."""
    if port in (1337, 5433):
        raise typer.BadParameter("ports 1337 and 5433 belong to the anchor")
    keys = Keys()
    database = asyncio.run(fresh_database(pg_admin, "ballast_gateway_bench")) if engine == "pg" else None
    unlimited = {"BALLAST_AGENT_ADDRESS_RATE": "100000000/minute"}
    with BallastServer(port, keys, database_uri=database, settings=unlimited) as server:
        pid = server.process.pid if server.process else None
        runs = asyncio.run(run(server.url, keys, clients, duration, warmup, repeats, pid))
    console.print(table(runs))


if __name__ == "__main__":
    sys.exit(cli())
