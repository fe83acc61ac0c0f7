"""Classes and fields grow on first write, safely when many writers race to grow them."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from backend.context import RequestContext
from backend.errors import IncorrectType
from backend.services.wiring import Services


def _services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def test_concurrent_first_writes_create_the_class_and_every_field_once(app: FastAPI) -> None:
    services = _services(app)
    ctx = RequestContext.system()
    writes = [services.objects.create(ctx, "Raced", {"shared": i, f"own{i}": str(i)}) for i in range(12)]
    created = await asyncio.gather(*writes)
    assert len({saved["objectId"] for saved in created}) == 12
    async with services.db.unit() as unit:
        schema = await unit.session.load_schema("Raced")
    assert schema is not None
    assert schema.fields["shared"].type == "Number"
    assert {f"own{i}" for i in range(12)} <= set(schema.fields)
    assert await services.objects.count(ctx, "Raced") == 12


async def test_a_second_writer_of_another_type_gets_111(app: FastAPI) -> None:
    services = _services(app)
    ctx = RequestContext.system()
    await services.objects.create(ctx, "Typed", {"score": 1})
    with pytest.raises(IncorrectType):
        await services.objects.create(ctx, "Typed", {"score": "one"})
