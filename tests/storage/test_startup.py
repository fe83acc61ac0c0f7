"""Instances that start together on one empty PostgreSQL database all come up."""

from __future__ import annotations

import asyncio

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
