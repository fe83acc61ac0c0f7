"""A database connection that dies (PostgreSQL kills the backend, the server restarts) or a database that is busy:
readers see no error, a request that cannot be served answers a retryable 503 (Parse code 100, Retry-After), never
code 1, and nothing is written twice."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.support.postgres import PostgresCluster

postgres_only = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


def _sql(cluster: PostgresCluster, statement: str) -> None:
    cluster._run("psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-qAt", "-c", statement)


def _kill_backends(cluster: PostgresCluster, settings: Settings) -> None:
    assert settings.database_uri
    name = settings.database_uri.rsplit("/", 1)[1]
    _sql(cluster, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def _warm(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """One object, and every pool (reads, single writes, transactions) holding connections."""
    created = await client.post("/classes/Fault", json={"n": 1}, headers=headers)
    assert created.status_code == 201, created.text
    object_id: str = created.json()["objectId"]
    for _ in range(3):
        assert (await client.get(f"/classes/Fault/{object_id}", headers=headers)).status_code == 200
        assert (await client.get("/classes/Fault", params={"count": 1}, headers=headers)).status_code == 200
        assert (await client.put(f"/classes/Fault/{object_id}", json={"n": {"__op": "Increment", "amount": 1}},
                                 headers=headers)).status_code == 200
    return object_id


@postgres_only
async def test_killed_connections_are_replaced_without_an_error(
        client: httpx.AsyncClient, master_headers: dict[str, str], settings: Settings,
        pg_cluster: PostgresCluster) -> None:
    object_id = await _warm(client, master_headers)
    _kill_backends(pg_cluster, settings)
    got = await client.get(f"/classes/Fault/{object_id}", headers=master_headers)
    assert got.status_code == 200 and got.json()["n"] == 4, got.text
    found = await client.get("/classes/Fault", params={"count": 1}, headers=master_headers)
    assert found.status_code == 200 and found.json()["count"] == 1, found.text
    _kill_backends(pg_cluster, settings)
    increment = {"n": {"__op": "Increment", "amount": 1}}
    # a write on a connection killed this instant: done, or refused with a retryable 503, never both nor code 1
    racing = await client.put(f"/classes/Fault/{object_id}", json=increment, headers=master_headers)
    assert racing.status_code == 200 or (racing.status_code == 503 and racing.json()["code"] == 100), racing.text
    _kill_backends(pg_cluster, settings)
    await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connections before the next request
    updated = await client.put(f"/classes/Fault/{object_id}", json=increment, headers=master_headers)
    assert updated.status_code == 200, updated.text
    created = await client.post("/classes/Fault", json={"n": 10}, headers=master_headers)
    assert created.status_code == 201, created.text
    after = await client.get("/classes/Fault", params={"count": 1, "order": "n"}, headers=master_headers)
    expected = 6 if racing.status_code == 200 else 5
    assert [row["n"] for row in after.json()["results"]] == [expected, 10]  # each write once


@postgres_only
async def test_an_unreachable_database_answers_a_retryable_503_and_nothing_is_written(
        client: httpx.AsyncClient, master_headers: dict[str, str], settings: Settings,
        pg_cluster: PostgresCluster) -> None:
    object_id = await _warm(client, master_headers)
    assert settings.database_uri
    name = settings.database_uri.rsplit("/", 1)[1]
    _sql(pg_cluster, f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    try:
        _kill_backends(pg_cluster, settings)
        answers = [
            await client.get(f"/classes/Fault/{object_id}", headers=master_headers),
            await client.get("/classes/Fault", headers=master_headers),
            await client.post("/classes/Fault", json={"n": 99}, headers=master_headers),
            await client.put(f"/classes/Fault/{object_id}", json={"n": 99}, headers=master_headers),
            await client.post("/batch", json={"requests": [{"method": "POST", "path": "/parse/classes/Fault",
                                                            "body": {"n": 99}}], "transaction": True},
                              headers=master_headers),
        ]
    finally:
        _sql(pg_cluster, f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == 100 and answer.headers["retry-after"] == "1"
        assert "postgres" not in answer.text
    rows = (await client.get("/classes/Fault", headers=master_headers)).json()["results"]
    assert [row["n"] for row in rows] == [4]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_a_busy_sqlite_file_answers_a_retryable_503_not_code_1(
        client: httpx.AsyncClient, master_headers: dict[str, str], settings: Settings) -> None:
    object_id = await _warm(client, master_headers)
    holder = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the writer's lock past the busy timeout
        started = time.monotonic()
        blocked = await client.post("/classes/Fault", json={"n": 99}, headers=master_headers)
        waited = time.monotonic() - started
        got = await client.get(f"/classes/Fault/{object_id}", headers=master_headers)  # WAL: readers go on
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert blocked.status_code == 503 and blocked.json()["code"] == 100, blocked.text
    assert blocked.headers["retry-after"] == "1" and waited < 30
    assert got.status_code == 200
    rows = (await client.get("/classes/Fault", headers=master_headers)).json()["results"]
    assert [row["n"] for row in rows] == [4]


@postgres_only
async def test_a_restarted_server_is_reconnected_to_without_an_error(
        settings: Settings, master_headers: dict[str, str]) -> None:
    # its own cluster, a restart must not touch other tests'; not under pytest's tmp dir, private to root
    base = Path(tempfile.mkdtemp(prefix="ballast-pg-restart-"))
    cluster = PostgresCluster(base)
    cluster.start()
    try:
        app = create_app(settings.model_copy(update={"database_uri": cluster.create_database()}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as client:
                object_id = await _warm(client, master_headers)
                cluster._run("pg_ctl", "-D", str(cluster.data), "-m", "fast", "-w", "stop")
                cluster._start_server()  # the same port and data: a restart, as an upgrade or a crash recovery
                got = await client.get(f"/classes/Fault/{object_id}", headers=master_headers)
                assert got.status_code == 200 and got.json()["n"] == 4, got.text
                await asyncio.sleep(0.2)
                created = await client.post("/classes/Fault", json={"n": 10}, headers=master_headers)
                assert created.status_code == 201, created.text
                found = await client.get("/classes/Fault", params={"count": 1}, headers=master_headers)
                assert found.json()["count"] == 2
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
