"""Appends with updates held for later: an audit record and the rows it moves (its chain head, a provenance
mark) are written together, in one statement on PostgreSQL, and commit or roll back together on both engines.

An update held by ``Appender.set_later`` is sent with the unit's next Appender insert, before the Appender
reads that class again in the unit, or when the unit commits: never lost, never read stale.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from backend import wire
from backend.context import RequestContext
from backend.errors import DuplicateValue, WriteConflict
from backend.services.data.appends import Appender
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services
from backend.storage.sqlstore import SqlSession, SqlStore

LEDGER, HEAD = "Ledger", "LedgerHead"


async def _prepare(services: Services) -> str:
    """A ledger with a unique ``seq`` and a head row to move along with it; answers the head's id."""
    ctx = RequestContext.system()
    await services.objects.create(ctx, LEDGER, {"seq": 0, "note": "genesis"})
    head = await services.objects.create(ctx, HEAD, {"seq": 0, "label": "start"})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, LEDGER, ("seq",))
    return str(head["objectId"])


async def _state(services: Services, head_id: str) -> tuple[list[float], dict[str, object]]:
    ctx = RequestContext.system()
    ledger = await services.objects.find(ctx, LEDGER, FindOptions(order="seq"))
    head = await services.objects.get(ctx, HEAD, head_id)
    return [obj["seq"] for obj in ledger.results], {"seq": head["seq"], "label": head["label"]}


async def test_held_updates_go_with_the_next_insert(services: Services) -> None:
    head_id = await _prepare(services)
    rows = Appender(services.schemas)
    async with services.db.unit(resumable=False) as unit:
        await rows.set_later(unit, HEAD, head_id, {"seq": 1})
        await rows.set_later(unit, HEAD, head_id, {"label": "moved"})  # the same row twice: both changes land
        await rows.insert(unit, LEDGER, {"seq": 1, "note": "one"})
        assert unit.later == []  # carried by the insert
    assert await _state(services, head_id) == ([0, 1], {"seq": 1, "label": "moved"})
    async with services.db.unit(resumable=False) as unit:
        await rows.set_later(unit, HEAD, head_id, {"seq": 3})
        await rows.insert_many(unit, LEDGER, [{"seq": 2}, {"seq": 3, "note": "three"}])
    assert await _state(services, head_id) == ([0, 1, 2, 3], {"seq": 3, "label": "moved"})


async def test_a_failed_insert_takes_its_held_updates_with_it(services: Services) -> None:
    head_id = await _prepare(services)
    rows = Appender(services.schemas)
    with pytest.raises(DuplicateValue):
        async with services.db.unit(resumable=False) as unit:
            await rows.insert(unit, LEDGER, {"seq": 1})
            await rows.set_later(unit, HEAD, head_id, {"seq": 2, "label": "never"})
            await rows.insert(unit, LEDGER, {"seq": 0})  # the ledger has a 0: unique violation
    assert await _state(services, head_id) == ([0], {"seq": 0, "label": "start"})


async def test_held_updates_are_sent_before_a_read_and_before_commit(services: Services) -> None:
    head_id = await _prepare(services)
    rows = Appender(services.schemas)
    async with services.db.unit(resumable=False) as unit:
        await rows.set_later(unit, HEAD, head_id, {"label": "read back"})
        fetched = await rows.fetch(unit, HEAD, head_id)
        assert fetched is not None and fetched["label"] == "read back"
        await rows.set_later(unit, HEAD, head_id, {"seq": 7})  # no insert follows: sent when the unit ends
    assert await _state(services, head_id) == ([0], {"seq": 7, "label": "read back"})


async def test_writes_held_by_the_engine_are_sent_at_commit_and_dropped_at_rollback(services: Services) -> None:
    # SQLite holds them for the next statement's trip; a unit that ends first still commits (or drops) them
    head_id = await _prepare(services)
    assert isinstance(services.store, SqlStore)
    store = services.store
    async with services.db.unit(resumable=False) as unit:
        assert isinstance(unit.session, SqlSession)
        head = (await services.schemas.get(unit, HEAD))
        assert head is not None
        table = store.table(head)
        async with store.held_writes(unit.session.conn):
            await unit.session.conn.execute(sa.update(table).where(table.c.objectId == head_id).values(label="kept"))
    with pytest.raises(RuntimeError):
        async with services.db.unit(resumable=False) as unit:
            assert isinstance(unit.session, SqlSession)
            async with store.held_writes(unit.session.conn):
                await unit.session.conn.execute(
                    sa.update(table).where(table.c.objectId == head_id).values(label="dropped"))
            raise RuntimeError("the unit fails before another statement")
    assert await _state(services, head_id) == ([0], {"seq": 0, "label": "kept"})


# SQLite has one writer at a time: two units never hold row locks at once, so only PostgreSQL can deadlock
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_deadlock_rolls_one_unit_back_as_a_write_conflict_and_the_other_commits(services: Services) -> None:
    ctx = RequestContext.system()
    ids = [str((await services.objects.create(ctx, HEAD, {"seq": n, "label": "start"}))["objectId"]) for n in (0, 1)]
    rows, both_hold = Appender(services.schemas), asyncio.Barrier(2)

    async def crosswise(first: str, second: str, label: str) -> str:
        async with services.db.unit() as unit:
            await rows.lock(unit, HEAD, first)
            await both_hold.wait()  # each holds one row; each now asks for the other's
            await rows.lock(unit, HEAD, second)
            await rows.set_later(unit, HEAD, first, {"label": label})
        return label

    outcomes = await asyncio.gather(crosswise(ids[0], ids[1], "a"), crosswise(ids[1], ids[0], "b"),
                                    return_exceptions=True)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["WriteConflict", "str"]
    conflict = next(outcome for outcome in outcomes if isinstance(outcome, WriteConflict))
    assert conflict.to_wire()["code"] == 1 and "nothing was changed" in conflict.message
    winner = next(outcome for outcome in outcomes if isinstance(outcome, str))
    labels = [(await services.objects.get(ctx, HEAD, object_id))["label"] for object_id in ids]
    assert labels.count(winner) == 1 and labels.count("start") == 1  # the loser's change is gone


async def test_held_updates_and_inserts_keep_every_type_of_value(services: Services) -> None:
    # SQLite sends them from prebuilt plans (each value through the column's own bind processor): a date, an
    # object, an array, a boolean and a missing value read back as they were given, on both engines
    ctx = RequestContext.system()
    typed = {"seq": 0, "label": "start", "when": {"__type": "Date", "iso": "2026-01-02T03:04:05.678Z"},
             "meta": {"a": [1, {"b": None}]}, "tags": ["x", "y"], "on": True}
    head_id = str((await services.objects.create(ctx, HEAD, typed))["objectId"])
    await services.objects.create(ctx, LEDGER, typed)
    moved = {"when": {"__type": "Date", "iso": "2027-05-06T07:08:09.010Z"}, "meta": {"z": "\u00e9\u2028"},
             "tags": [], "on": False, "label": None}
    stored = {key: wire.decode(value) for key, value in moved.items()}  # what Appender takes: stored values
    rows = Appender(services.schemas)
    async with services.db.unit(resumable=False) as unit:
        await rows.set_later(unit, HEAD, head_id, stored)
        await rows.insert_many(unit, LEDGER, [{key: wire.decode(value) for key, value in typed.items()} | {"seq": 1},
                                              {"seq": 2, "when": stored["when"]}])
    head = await services.objects.get(ctx, HEAD, head_id)
    assert {key: head.get(key) for key in moved} == moved
    ledger = (await services.objects.find(ctx, LEDGER, FindOptions(order="seq"))).results
    assert [obj["seq"] for obj in ledger] == [0, 1, 2]
    assert {key: ledger[1].get(key) for key in typed if key != "seq"} == {k: v for k, v in typed.items() if k != "seq"}
    assert ledger[2]["when"] == moved["when"] and "label" not in ledger[2] and "meta" not in ledger[2]
