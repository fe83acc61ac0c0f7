"""Single-write units: a plain create runs as one statement, and anything more falls back to a transaction.

A create of known fields skips BEGIN / COMMIT. A session in that mode refuses
a second write, or a schema change, before it reaches the database, so the
work is redone in a real transaction and nothing is half-written.
"""

from __future__ import annotations

import pytest

from backend.context import RequestContext
from backend.errors import DuplicateValue
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services
from backend.storage.protocols import TransactionRequired


async def _skus(services: Services) -> list[str]:
    found = await services.objects.find(RequestContext.system(), "Gadget", FindOptions(order="sku"))
    return [obj["sku"] for obj in found.results]


async def test_a_second_write_is_refused_before_it_runs(services: Services) -> None:
    ctx = RequestContext.system()
    await services.objects.create(ctx, "Gadget", {"sku": "A-1"})
    async with services.db.unit() as unit:
        schema = await services.schemas.get(unit, "Gadget")
    assert schema is not None
    with pytest.raises(TransactionRequired):
        async with services.db.unit(single_write=True) as unit:
            await unit.session.insert(schema, {"objectId": "single0001", "sku": "B-2"}, savepoint=False)
            await unit.session.insert(schema, {"objectId": "single0002", "sku": "C-3"}, savepoint=False)
    # the first write committed on its own; the second never reached the database
    assert await _skus(services) == ["A-1", "B-2"]


async def test_a_schema_change_is_refused_in_a_single_write_unit(services: Services) -> None:
    ctx = RequestContext.system()
    with pytest.raises(TransactionRequired):
        async with services.db.unit(single_write=True) as unit:
            await services.schemas.ensure_fields(unit, ctx, "Gadget", {"sku": "A-1"})
    async with services.db.unit(read_only=True) as unit:
        assert await services.schemas.get(unit, "Gadget") is None


async def test_creates_that_need_more_than_one_statement_still_work(services: Services) -> None:
    ctx = RequestContext.system()
    first = await services.objects.create(ctx, "Gadget", {"sku": "A-1"})  # new class: schema + insert
    await services.objects.create(ctx, "Gadget", {"sku": "B-2", "colour": "red"})  # new field
    await services.objects.create(ctx, "Gadget", {  # a relation: insert + join rows
        "sku": "C-3", "parts": {"__op": "AddRelation", "objects": [
            {"__type": "Pointer", "className": "Gadget", "objectId": first["objectId"]}]},
    })
    assert await _skus(services) == ["A-1", "B-2", "C-3"]
    found = await services.objects.find(ctx, "Gadget", FindOptions(where={"colour": "red"}))
    assert [obj["sku"] for obj in found.results] == ["B-2"]


async def test_a_duplicate_in_a_single_write_create_is_reported_and_leaves_nothing(services: Services) -> None:
    ctx = RequestContext.system()
    await services.objects.create(ctx, "Gadget", {"sku": "A-1"})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, "Gadget", ("sku",))
    with pytest.raises(DuplicateValue):
        await services.objects.create(ctx, "Gadget", {"sku": "A-1"})
    await services.objects.create(ctx, "Gadget", {"sku": "B-2"})  # the pool's connection is still good
    assert await _skus(services) == ["A-1", "B-2"]
