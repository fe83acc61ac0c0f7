"""Console pages at scale: the approvals inbox with many pending requests, the audit explorer with many records.

In-process (ASGI), SQLite in a temporary folder (or PostgreSQL with --database-uri). Seeds N pending
approvals through the gateway (real over-cap bulk deletes) and M audit records through AuditLog, then times
each page (median of --repeats loads), first page and a deep one. ``--data-dir`` keeps the SQLite
database in that folder and seeds it only once, so later runs (another code version) reuse a million records.

    .venv/bin/python -m benchmarks.console --approvals 1000 --records 1000000 --data-dir /tmp/console-1m
"""

from __future__ import annotations

import asyncio
import html
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import typer

from backend.app import create_app
from backend.config import Settings

KEY = "bench-master-key"
MASTER = {"X-Parse-Application-Id": "ballast", "X-Parse-Master-Key": KEY}
cli = typer.Typer(add_completion=False)


async def _seed_approvals(http: httpx.AsyncClient, count: int) -> None:
    await http.put("/agent/v1/admin/policy", headers=MASTER, json={
        "agentRate": "1000000/minute", "toolRates": {"bulk_delete": "1000000/minute"}, "runCalls": 10**6,
        "runWrites": 10**6})
    for n in range(4):
        await http.post("/parse/classes/Order", headers=MASTER, json={"n": n})
    made = await http.post("/agent/v1/admin/agents", headers=MASTER, json={"name": "bench", "grants": ["*"]})
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    for _ in range(count):
        answer = await http.post("/agent/v1/write/bulk_delete", headers=bearer,
                                 json={"className": "Order", "where": {}, "limit": 100})
        assert answer.status_code == 202, answer.text


async def _seed_records(app: object, count: int) -> None:
    tools = app.state.agent_tools  # type: ignore[attr-defined]
    batch = 5000
    for start in range(0, count, batch):
        entries = [{"agentId": f"agent{n % 50}", "runId": f"run_{n // 20}", "tool": "query_objects",
                    "kind": "read", "decision": "deny" if n % 10 == 0 else "allow",
                    "rule": f"rate.agent{n % 3}" if n % 10 == 0 else "allow", "outcome": "ok",
                    "input": {"className": "Order", "where": {"n": n}}}
                   for n in range(start, min(count, start + batch))]
        async with tools.services.db.unit() as unit:
            await tools.audit.append_many(unit, entries)


async def _deep(http: httpx.AsyncClient, path: str, hops: int) -> str:
    """The URL of the page ``hops`` pages in, following each page's keyset "next" link."""
    for _ in range(max(0, hops)):
        found = re.search(r'href="(\?after=[^"]+)" rel="next"', (await http.get(path)).text)
        if found is None:
            break
        path = path.split("?")[0] + html.unescape(found.group(1))
    return path


async def _time(http: httpx.AsyncClient, path: str, repeats: int) -> float:
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = await http.get(path)
        took.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(took) * 1000


async def _seed(app: object, http: httpx.AsyncClient, approvals: int, records: int, folder: Path) -> None:
    """Seed the approvals, records and the console admin, unless this folder was seeded before."""
    marker = folder / "seeded"
    if marker.exists():
        print(f"reusing {folder}: {marker.read_text()}")
        return
    started = time.perf_counter()
    await _seed_approvals(http, approvals)
    await _seed_records(app, records)
    print(f"seeded {approvals} approvals, {records} records in {time.perf_counter() - started:.0f} s")
    admin = {"username": "bench", "password": "bench-password-1"}
    await http.post("/agent/v1/admin/admins", headers=MASTER, json=admin)
    marker.write_text(f"{approvals} approvals, {records} records")


async def run(approvals: int, records: int, repeats: int, database_uri: str | None, data_dir: Path | None) -> None:
    folder = data_dir or Path(tempfile.mkdtemp(prefix="ballast-console-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(master_key=KEY, data_dir=folder, database_uri=database_uri))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=600) as http:
            await _seed(app, http, approvals, records, folder)
            await http.post("/console/signin", data={"name": "bench", "secret": "bench-password-1"})
            pages = ["/console/approvals", await _deep(http, "/console/approvals", approvals // 25 - 1),
                     "/console/approvals/history", "/console/audit", await _deep(http, "/console/audit", 100),
                     "/console/audit?agentId=agent7", "/console/audit?runId=run_12345", "/console/agents",
                     "/console/insights?window=1h", "/console/insights?window=30d"]
            for path in pages:
                print(f"{path[:60]:60} {await _time(http, path, repeats):8.1f} ms")


@cli.command()
def main(approvals: int = 1000, records: int = 100_000, repeats: int = 5, database_uri: str | None = None,
         data_dir: Path | None = None) -> None:
    asyncio.run(run(approvals, records, repeats, database_uri, data_dir))


if __name__ == "__main__":
    cli()
