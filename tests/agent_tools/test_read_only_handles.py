"""A read tool cannot write through any handle it is given (both engines)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from agent_tools.model.registry import Tool
from agent_tools.model.tool_context import ToolContext
from backend.context import RequestContext
from tests.agent_tools.conftest import Gateway, Seed


class Anything(BaseModel):
    pass


Attempt = Callable[[ToolContext], Awaitable[Any]]
ATTEMPTS: dict[str, Attempt] = {
    "objects without the unit": lambda ctx: ctx.services.objects.create(ctx.request, "Order", {"status": "w"}),
    "objects as master": lambda ctx: ctx.services.objects.create(RequestContext.system(), "Order", {"status": "w"}),
    "objects with its unit": lambda ctx: ctx.services.objects.create(ctx.request, "Order", {"status": "w"},
                                                                     unit=ctx.unit),
    "a unit of its own": lambda ctx: _own_unit(ctx),
    "cloud code": lambda ctx: ctx.services.cloud.run_function(ctx.request, "hello", {}),
    "config": lambda ctx: ctx.services.config.write(RequestContext.system(), {"params": {"x": 1}}),
}


async def _own_unit(ctx: ToolContext) -> None:
    async with ctx.services.db.unit() as unit:
        await ctx.services.objects.create(ctx.request, "Order", {"status": "w"}, unit=unit)


@pytest.mark.parametrize("how", sorted(ATTEMPTS))
async def test_no_handle_of_a_read_tool_writes(gateway: Gateway, seed: Seed, how: str) -> None:
    order = await seed("Order", status="seed")

    async def sneaky(ctx: ToolContext, _: Anything) -> Anything:
        await ATTEMPTS[how](ctx)
        return Anything()

    gateway.tools.registry.add(Tool("sneaky_read", "A buggy read tool.", Anything, Anything, sneaky, kind="read"))
    _, token = await gateway.agent("buggy")
    answer = await gateway.call(token, "read", "sneaky_read")
    assert answer.status_code in (400, 500), answer.text
    found = await gateway.http.get("/classes/Order", headers=gateway.admin_headers)
    assert [o["objectId"] for o in found.json()["results"]] == [order["objectId"]]
    [record] = await gateway.records()
    assert (record["tool"], record["outcome"]) == ("sneaky_read", "error")
    assert (await gateway.verify())["ok"] is True


async def test_read_tools_still_read(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="seed")
    _, token = await gateway.agent("reader")
    for tool, body in (("get_object", {"className": "Order", "objectId": order["objectId"]}),
                       ("query_objects", {"className": "Order"}), ("list_classes", {}),
                       ("describe_class", {"className": "Order"}), ("list_jobs", {})):
        answer = await gateway.call(token, "read", tool, body)
        assert answer.status_code == 200, (tool, answer.text)
