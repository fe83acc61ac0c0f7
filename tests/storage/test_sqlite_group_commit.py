"""SQLite: plain creates share one transaction when they arrive together, and each stays its own write.

Concurrent single-row INSERTs are committed together (backend/storage/sqlite_group.py). A write SQLite
refuses must fail alone, with the error it always had; the others commit; a write is answered only after
the commit that holds it, so a process killed right after an answer keeps that object. Prebuilt reads go
straight to sqlite3 (backend/storage/sqlite_direct.py) and must equal SQLAlchemy's rows.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from backend.config import Settings
from backend.context import RequestContext
from backend.errors import DuplicateValue
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services, build_services
from backend.storage import sqlite_direct
from backend.storage.protocols import TransactionRequired
from backend.storage.sqlite import SqliteStore
from tests.support.killed import acknowledged_until_killed

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
SYSTEM = RequestContext.system()


async def _skus(services: Services) -> list[str]:
    found = await services.objects.find(SYSTEM, "Gadget", FindOptions(order="sku", limit=1000))
    return [obj["sku"] for obj in found.results]


async def _store_table(services: Services, class_name: str) -> tuple[SqliteStore, sa.Table]:
    store = services.store
    assert isinstance(store, SqliteStore)
    async with services.db.unit() as unit:
        schema = await services.schemas.get(unit, class_name)
    assert schema is not None
    return store, store.table(schema)


async def _unique_skus(services: Services) -> None:
    await services.objects.create(SYSTEM, "Gadget", {"sku": "seed"})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, "Gadget", ("sku",))


async def test_concurrent_creates_share_commits_and_a_refused_one_fails_alone(services: Services) -> None:
    await _unique_skus(services)
    store = services.store
    assert isinstance(store, SqliteStore)
    groups_before = store._group.groups
    skus = [f"s{n:03}" for n in range(60)] + ["seed", "s007"]  # two duplicates among sixty fresh ones
    outcomes = await asyncio.gather(*(services.objects.create(SYSTEM, "Gadget", {"sku": sku}) for sku in skus),
                                    return_exceptions=True)
    refused = [sku for sku, outcome in zip(skus, outcomes, strict=True) if isinstance(outcome, Exception)]
    assert refused == ["seed", "s007"]
    assert all(isinstance(outcome, DuplicateValue) for outcome in outcomes[-2:])  # code 137, as before
    assert await _skus(services) == sorted(["seed", *skus[:60]])
    assert store._group.groups - groups_before < len(skus)  # some commits held more than one create


async def test_a_single_write_unit_refuses_anything_but_an_insert_before_it_runs(services: Services) -> None:
    created = await services.objects.create(SYSTEM, "Gadget", {"sku": "A-1"})
    async with services.db.unit() as unit:
        schema = await services.schemas.get(unit, "Gadget")
    assert schema is not None
    with pytest.raises(TransactionRequired):
        async with services.db.unit(single_write=True) as unit:
            await unit.session.update(schema, created["objectId"], {"sku": "B-2"}, savepoint=False)
    with pytest.raises(TransactionRequired):
        async with services.db.unit(single_write=True) as unit:
            await unit.session.delete(schema, created["objectId"])
    assert await _skus(services) == ["A-1"]


async def test_direct_reads_equal_sqlalchemy_reads_and_fall_back_on_refusal(services: Services) -> None:
    await services.objects.create(SYSTEM, "Gadget", {
        "sku": "ß😀", "n": 2.5, "ok": True, "when": {"__type": "Date", "iso": "2024-02-29T23:59:59.123Z"},
        "tags": ["a", 1, None, {"k": [True]}],
    })
    store, table = await _store_table(services, "Gadget")
    readable = sa.or_(table.c._rperm.is_(None), store.dialect.array_contains_any(table.c._rperm, ["*", "role:x"]))
    statement = sa.select(*table.c).where(table.c.sku == sa.bindparam("sku"), readable)  # a reader's IN list
    async with store.connect(read_only=True) as conn:
        direct = await store.run_read(conn, statement, {"sku": "ß😀"}, prebuilt=True)
        through = await conn.execute(statement, {"sku": "ß😀"})
        assert isinstance(direct, sqlite_direct.Rows) and list(direct.keys()) == list(through.keys())
        assert [tuple(row) for row in direct] == [tuple(row) for row in through] and len(list(direct)) == 1
        everything = sa.select(*table.c).where(table.c.sku != sa.bindparam("sku"))  # no index: past the budget
        await asyncio.gather(*(services.objects.create(SYSTEM, "Gadget", {"sku": f"z{n:04}"}) for n in range(800)))
        raw = (await conn.get_raw_connection()).dbapi_connection._connection._conn  # type: ignore[union-attr]
        assert sqlite_direct._inline(raw, store._plans.get(everything).sql, ("ß😀",)) is None  # type: ignore[union-attr]
        direct = await store.run_read(conn, everything, {"sku": "ß😀"}, prebuilt=True)
        through = await conn.execute(everything, {"sku": "ß😀"})
        assert [tuple(row) for row in direct] == [tuple(row) for row in through] and len(list(direct)) == 800
        refused = sa.select(sa.func.no_such_function().label("x"))
        with pytest.raises(sa.exc.OperationalError, match="no such function"):  # SQLAlchemy's error, as before
            await store.run_read(conn, refused, None, prebuilt=True)


async def test_an_acknowledged_create_survives_the_process_being_killed(settings: Settings) -> None:
    """Creates run in another process, 32 at a time; it is killed (SIGKILL) mid-stream; every create it had
    answered is in the database."""
    acknowledged = await acknowledged_until_killed("tests.storage.killed_writer", [str(settings.data_dir)], 300)
    survivor = build_services(settings)
    await survivor.start()
    try:
        found = await survivor.objects.find(SYSTEM, "Gadget", FindOptions(limit=10_000, keys="objectId"))
    finally:
        await survivor.stop()
    assert set(acknowledged) <= {obj["objectId"] for obj in found.results}


async def test_reads_never_wait_for_a_write_in_progress_and_long_reads_still_answer(services: Services) -> None:
    """Short reads run on the event loop and long ones in the driver's thread (sqlite_direct.fetch); neither
    waits for a write transaction that holds SQLite's write lock (WAL): a read that waited here would never end,
    since the writer waits for it."""
    created = await services.objects.create(SYSTEM, "Gadget", {"sku": "A-1"})
    await asyncio.gather(*(services.objects.create(SYSTEM, "Gadget", {"sku": f"z{n:04}"}) for n in range(600)))
    async with services.db.unit() as unit:
        await services.objects.update(SYSTEM, "Gadget", created["objectId"], {"sku": "B-2"}, unit=unit)
        assert (await services.objects.get(SYSTEM, "Gadget", created["objectId"]))["sku"] == "A-1"  # committed
        found = await services.objects.find(SYSTEM, "Gadget", FindOptions(where={"sku": "A-1"}))
        assert [obj["objectId"] for obj in found.results] == [created["objectId"]]
        assert len(await _skus(services)) == 601  # hundreds of rows: past the loop's budget, in the thread
    assert (await services.objects.get(SYSTEM, "Gadget", created["objectId"]))["sku"] == "B-2"


async def test_a_read_of_big_rows_is_copied_in_the_thread_not_on_the_event_loop(services: Services) -> None:
    """The step budget bounds work, not bytes: 100 rows of 200 kB are a few hundred steps, but copying 20 MB
    into Python strings stalled every other request (100 rows of 2 MB: 0.7 to 2 s without an answer to anyone).
    A read whose rows pass INLINE_BYTES gives way to the driver's thread; the rows are the same either way."""
    await asyncio.gather(*(services.objects.create(SYSTEM, "Hoard", {"tag": "x", "blob": f"{n:03}" + "k" * 200_000})
                           for n in range(100)))
    store, table = await _store_table(services, "Hoard")
    statement = sa.select(*table.c).where(table.c.tag == sa.bindparam("tag"))
    plan = store._plans.get(statement)
    assert plan is not None
    async with store.connect(read_only=True) as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection._connection._conn  # type: ignore[union-attr]
        assert sqlite_direct._inline(raw, plan.sql, ("x",)) is None  # a few hundred steps, 20 MB: not inline
        small = sa.select(table.c.objectId, table.c.tag).where(table.c.tag == sa.bindparam("tag"))
        small_plan = store._plans.get(small)
        assert small_plan is not None
        assert len(sqlite_direct._inline(raw, small_plan.sql, ("x",)) or []) == 100  # small rows still inline
    found = await services.objects.find(SYSTEM, "Hoard", FindOptions(where={"tag": "x"}, limit=100))
    assert sorted(obj["blob"][:3] for obj in found.results) == [f"{n:03}" for n in range(100)]


async def test_a_write_its_driver_cannot_bind_fails_alone_and_leaves_no_transaction_open(services: Services) -> None:
    """sqlite3 refuses some values before SQLite sees them (a lone surrogate: UnicodeEncodeError; an int past 64
    bits: OverflowError), which are not sqlite3.Error. Such a write must fail alone like a unique violation: the
    others of its group commit in it, and the writer's connection is left outside any transaction (a connection
    kept between groups would otherwise hold SQLite's write lock, and every later write would wait on it)."""
    store = services.store
    assert isinstance(store, SqliteStore)
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE bind_probe (x)")
    sql = "INSERT INTO bind_probe (x) VALUES (?)"
    before = store._group.groups
    outcome = await asyncio.gather(*(store._group.insert(sql, (value,))
                                     for value in ("a", "\ud800", 2**70, "b")))
    assert outcome == [True, False, False, True] and store._group.groups == before + 1
    async with store.connect(read_only=True) as conn:
        assert [row[0] for row in await conn.exec_driver_sql("SELECT x FROM bind_probe ORDER BY x")] == ["a", "b"]
    assert await asyncio.wait_for(store._group.insert(sql, ("c",)), 5)


async def test_a_sorted_read_over_big_rows_leaves_the_event_loop_within_milliseconds(services: Services) -> None:
    """One VM step may copy a whole record (ORDER BY puts each row in the sorter): 5,000 steps over rows of 1 MB
    held the loop for about half a second before the step budget stopped them. The loop's try also has a clock."""
    store = services.store
    assert isinstance(store, SqliteStore)
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE big AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
            "SELECT i AS n, hex(zeroblob(500000)) || i AS blob FROM c")
    async with store.connect(read_only=True) as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection._connection._conn  # type: ignore[union-attr]
        started = time.perf_counter()
        assert sqlite_direct._inline(raw, "SELECT * FROM big ORDER BY n DESC LIMIT 1", ()) is None
        assert time.perf_counter() - started < 0.1
        assert sqlite_direct._inline(raw, "SELECT n FROM big WHERE rowid = 7", ()) == [(7,)]  # short: inline
