"""Shelved autocommit connections (backend/storage/sqlshelf.py): reused when healthy, never when in doubt."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from backend.context import RequestContext
from backend.services.wiring import Services
from backend.storage.sqlshelf import ConnectionShelf
from backend.storage.sqlstore import SqlSession, SqlStore


async def _backend_pid(services: Services) -> int:
    async with services.db.unit(read_only=True) as unit:
        assert isinstance(unit.session, SqlSession)
        return int((await unit.session.conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_read_after_an_error_reuses_the_connection_and_still_reads(services: Services) -> None:
    first = await _backend_pid(services)
    with pytest.raises(sa.exc.DBAPIError):
        async with services.db.unit(read_only=True) as unit:
            assert isinstance(unit.session, SqlSession)
            await unit.session.conn.execute(sa.text("SELECT 1 / 0"))
    assert await _backend_pid(services) == first  # the same server connection: nothing was reopened


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_read_cancelled_mid_statement_is_not_handed_on(services: Services) -> None:
    first = await _backend_pid(services)

    async def slow_read() -> None:
        async with services.db.unit(read_only=True) as unit:
            assert isinstance(unit.session, SqlSession)
            await unit.session.conn.execute(sa.text("SELECT pg_sleep(30)"))

    task = asyncio.create_task(slow_read())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _backend_pid(services) != first  # a fresh connection, not the one left mid-query
    created = await services.objects.create(RequestContext.system(), "Gadget", {"sku": "A-1"})
    fetched = await services.objects.get(RequestContext.system(), "Gadget", created["objectId"])
    assert fetched["sku"] == "A-1"



async def test_more_readers_than_connections_all_get_their_turn(services: Services) -> None:
    # two connections, six readers looping back to back: they take turns; none waits until the others are done
    assert isinstance(services.store, SqlStore)
    engine = create_async_engine(services.store.engine.url, pool_size=1, max_overflow=1)
    shelf = ConnectionShelf(engine, 2)
    order: list[int] = []
    holding = most_held = 0

    async def reader(number: int) -> None:
        nonlocal holding, most_held
        for _ in range(5):
            async with shelf.connection() as conn:
                holding += 1
                most_held = max(most_held, holding)
                await conn.execute(sa.text("SELECT 1"))
                order.append(number)
                holding -= 1

    # both connections open before the race: a new PostgreSQL connection takes longer than many SELECT 1s, and a
    # reader still connecting is not yet waiting its turn (what would look like starvation is connect latency)
    async with shelf.connection(), shelf.connection():
        pass
    try:
        await asyncio.wait_for(asyncio.gather(*(reader(number) for number in range(6))), timeout=30)
    finally:
        await shelf.close()
        await engine.dispose()
    assert most_held <= 2
    firsts = [order.index(number) for number in range(6)]
    thirds = [index for index, number in enumerate(order) if order[: index + 1].count(number) == 3]
    assert max(firsts) < min(thirds), order  # every reader had its first turn before any had its third
