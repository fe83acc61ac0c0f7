"""A unique violation inside a unit of work is reported and leaves the unit usable, on both engines.

SQLite undoes only the failing statement, so its writes run without a SAVEPOINT
(``SqlStore.statement_rollback``); PostgreSQL aborts the whole transaction on an
error, so its writes keep one. Either way a caller that catches DuplicateValue
can go on writing in the same transaction, and what it wrote commits.
"""

from __future__ import annotations

import pytest

from backend.context import RequestContext
from backend.errors import DuplicateValue
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services


async def test_a_caught_duplicate_leaves_the_transaction_usable(services: Services) -> None:
    ctx = RequestContext.system()
    first = await services.objects.create(ctx, "Gadget", {"sku": "A-1", "n": 1})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, "Gadget", ("sku",))
    async with services.db.unit() as unit:
        await services.objects.create(ctx, "Gadget", {"sku": "B-2", "n": 2}, unit=unit)
        with pytest.raises(DuplicateValue):
            await services.objects.create(ctx, "Gadget", {"sku": "A-1", "n": 3}, unit=unit)
        with pytest.raises(DuplicateValue):
            await services.objects.update(ctx, "Gadget", first["objectId"], {"sku": "B-2"}, unit=unit)
        await services.objects.create(ctx, "Gadget", {"sku": "C-3", "n": 4}, unit=unit)
    found = await services.objects.find(ctx, "Gadget", FindOptions(order="n"))
    assert [(obj["sku"], obj["n"]) for obj in found.results] == [("A-1", 1), ("B-2", 2), ("C-3", 4)]


async def test_a_duplicate_that_escapes_rolls_the_whole_unit_back(services: Services) -> None:
    ctx = RequestContext.system()
    await services.objects.create(ctx, "Gadget", {"sku": "A-1"})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, "Gadget", ("sku",))
    with pytest.raises(DuplicateValue):
        async with services.db.unit() as unit:
            await services.objects.create(ctx, "Gadget", {"sku": "B-2"}, unit=unit)
            await services.objects.create(ctx, "Gadget", {"sku": "A-1"}, unit=unit)
    found = await services.objects.find(ctx, "Gadget", FindOptions())
    assert [obj["sku"] for obj in found.results] == ["A-1"]


async def test_a_write_in_its_own_unit_fails_alone_and_the_next_one_works(services: Services) -> None:
    # ObjectService skips the SAVEPOINT when the write is its unit's only business: the unit ends anyway
    ctx = RequestContext.system()
    first = await services.objects.create(ctx, "Gadget", {"sku": "A-1"})
    second = await services.objects.create(ctx, "Gadget", {"sku": "B-2"})
    async with services.db.unit() as unit:
        await services.schemas.ensure_unique(unit, "Gadget", ("sku",))
    with pytest.raises(DuplicateValue):
        await services.objects.create(ctx, "Gadget", {"sku": "A-1", "extra": 1})
    with pytest.raises(DuplicateValue):
        await services.objects.update(ctx, "Gadget", second["objectId"], {"sku": "A-1"})
    await services.objects.update(ctx, "Gadget", first["objectId"], {"sku": "A-2"})
    await services.objects.create(ctx, "Gadget", {"sku": "C-3"})
    found = await services.objects.find(ctx, "Gadget", FindOptions(order="sku"))
    assert [obj["sku"] for obj in found.results] == ["A-2", "B-2", "C-3"]
    assert all("extra" not in obj for obj in found.results)
