"""ballast_schema_leases on real PostgreSQL: crashed processes' rows are pruned, a live lease never is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from backend.config import Settings
from backend.storage import pg_rules

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)

ROWS = {  # instance -> seconds from now its lease runs out
    "crashed-an-hour-ago": -3600.0, "crashed-just-past-the-prune-age": -pg_rules.PRUNE_AFTER - 5,
    "lapsed-a-moment-ago": -1.0, "lapsed-nearly-prune-age": -pg_rules.PRUNE_AFTER + 10, "live": 3600.0,
}


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(str(settings.database_uri))
    for statement in pg_rules.TABLES:
        await conn.execute(statement)
    insert = "INSERT INTO ballast_schema_leases VALUES ($1, clock_timestamp() + make_interval(secs => $2))"
    await conn.executemany(insert, list(ROWS.items()))
    try:
        yield conn
    finally:
        await conn.close()


async def instances(conn: asyncpg.Connection) -> set[str]:
    return {row[0] for row in await conn.fetch("SELECT instance FROM ballast_schema_leases")}


async def test_a_starting_instance_prunes_leases_run_out_long_ago_and_keeps_the_rest(
        settings: Settings, db: asyncpg.Connection) -> None:
    watch = pg_rules.RuleWatch(str(settings.database_uri), lambda: None)
    await watch.start()
    try:
        assert await instances(db) == {"lapsed-a-moment-ago", "lapsed-nearly-prune-age", "live", watch.instance}
    finally:
        await watch.stop()
    assert await instances(db) == {"lapsed-a-moment-ago", "lapsed-nearly-prune-age", "live"}


async def test_pruning_never_removes_a_lease_being_renewed(settings: Settings, db: asyncpg.Connection) -> None:
    """The harshest prune (anything expired at all) racing renewals of live leases, statement against statement."""
    other = await asyncpg.connect(str(settings.database_uri))
    renew = ("INSERT INTO ballast_schema_leases VALUES ($1, clock_timestamp() + make_interval(secs => 3600)) "
             "ON CONFLICT (instance) DO UPDATE SET expires_at = EXCLUDED.expires_at")
    try:
        async def prune() -> None:
            for _ in range(200):
                await other.execute(pg_rules._PRUNE, 0.0)

        async def renew_all() -> None:
            for _ in range(200):
                await db.execute(renew, "live")

        await asyncio.gather(prune(), renew_all())
        assert await instances(db) == {"live"}  # every lapsed row gone, the renewed one kept throughout
    finally:
        await other.close()


async def test_a_change_after_a_prune_still_waits_for_every_live_lease_and_no_dead_one(
        settings: Settings, db: asyncpg.Connection) -> None:
    watch = pg_rules.RuleWatch(str(settings.database_uri), lambda: None)
    await watch.start()
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            pending = await pg_rules.announce(conn, watch.instance)
        # the lease that lapsed a moment ago is within MARGIN of nothing: only 'live' is waited for
        assert set(pending.deadlines) == {"live"}
        assert await instances(db) >= {"live", "lapsed-a-moment-ago", watch.instance}
    finally:
        await engine.dispose()
        await watch.stop()
