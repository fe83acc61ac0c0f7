"""The gateway over REST: listing tools, read and write calls, their audit records."""

from __future__ import annotations

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
