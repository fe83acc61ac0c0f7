"""The gateway over REST: listing tools, read and write calls, their audit records."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from agent_tools.model.registry import app_tools, tool
from agent_tools.model.tool_context import ToolContext
from backend.app import create_app
from backend.config import Settings
from tests.agent_tools.conftest import Gateway, Seed


async def test_agent_lists_only_granted_tools(gateway: Gateway) -> None:
    _, token = await gateway.agent("reader", grants=["read:*"])
    answer = await gateway.http.get("http://127.0.0.1/agent/v1/tools", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    tools = {tool["name"]: tool for tool in answer.json()["tools"]}
    assert "get_object" in tools and "create_object" not in tools
    assert tools["get_object"]["kind"] == "read"
    assert tools["get_object"]["inputSchema"]["properties"]["objectId"]["type"] == "string"
    assert len(tools["get_object"]["version"]) == 16


async def test_read_and_write_calls_are_audited(gateway: Gateway, seed: Seed) -> None:
    order = await seed("Order", status="new", total=10)
    _, token = await gateway.agent("clerk", grants=["read:*", "write:*"])
    read = await gateway.call(token, "read", "get_object", {"className": "Order", "objectId": order["objectId"]})
    assert read.status_code == 200, read.text
    assert read.json()["result"]["object"]["status"] == "new"
    write = await gateway.call(token, "write", "update_object",
                               {"className": "Order", "objectId": order["objectId"], "fields": {"status": "paid"}})
    assert write.status_code == 200, write.text
    records = await gateway.records()
    assert [r["tool"] for r in records] == ["get_object", "update_object"]
    assert records[0]["context"][0]["objectId"] == order["objectId"]
    assert records[1]["changed"][0]["objectId"] == order["objectId"]
    assert all(r["decision"] == "allow" and r["outcome"] == "ok" for r in records)
    assert (await gateway.verify())["ok"]


async def test_an_apps_own_tool_is_served(settings: Settings, master_headers: dict[str, str]) -> None:
    class Refund(BaseModel):
        orderId: str

    class Refunded(BaseModel):
        refunded: bool

    async def refund(ctx: ToolContext, given: Refund) -> Refunded:
        await ctx.update("Order", given.orderId, {"status": "refunded"})
        return Refunded(refunded=True)

    tool("refund_order", description="Refund one order.", input=Refund, output=Refunded, kind="write",
         roles={"billing"})(refund)
    try:
        app = create_app(settings.model_copy(update={"jobs_enabled": False}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
                gateway = Gateway(http, master_headers, app.state.agent_tools)
                order = await http.post("/classes/Order", json={"status": "paid"}, headers=master_headers)
                _, clerk = await gateway.agent("clerk", grants=["refund_order"])
                _, biller = await gateway.agent("biller", roles=["billing"], grants=["refund_order"])
                body = {"orderId": order.json()["objectId"]}
                assert (await gateway.call(clerk, "write", "refund_order", body)).json()["rule"] == "roles.missing"
                done = await gateway.call(biller, "write", "refund_order", body)
                assert done.status_code == 200 and done.json()["result"] == {"refunded": True}
    finally:
        app_tools._tools.pop("refund_order", None)
