"""Instances that start together on one empty PostgreSQL database all come up."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from backend.app import create_app
from backend.config import Settings
from backend.storage import create_store
from tests.support.postgres import PostgresCluster


async def test_instances_starting_at_once_on_an_empty_database_all_open(pg_cluster: PostgresCluster) -> None:
    url = Settings(database_uri=pg_cluster.create_database()).database_url
    stores = [create_store(url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.open() for store in stores))
        async with stores[0].transaction() as session:
            assert await session.load_schemas() == []
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_whole_servers_starting_at_once_on_an_empty_database_all_come_up(
    pg_cluster: PostgresCluster, tmp_path: Path,
) -> None:
    """Every part that makes its classes and indexes at start (identity, jobs, agent tools) does it once."""
    uri = pg_cluster.create_database()
    apps = [create_app(Settings(application_id="a", master_key="m", database_uri=uri, data_dir=tmp_path / str(n)))
            for n in range(3)]
    async with AsyncExitStack() as stack:
        await asyncio.gather(*(stack.enter_async_context(app.router.lifespan_context(app)) for app in apps))
        for app in apps:  # each serves, and sees the classes the others may have made
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/parse",
                                         headers={"X-Parse-Application-Id": "a", "X-Parse-Master-Key": "m"}) as http:
                classes = {row["className"] for row in (await http.get("/schemas")).json()["results"]}
                assert {"_User", "_Role", "_Session"} <= classes
                assert (await http.post("/users", json={"username": f"u{id(app)}", "password": "pw"})).status_code \
                    == 201
