"""App tools declared in cloud code are registered and served: REST and the MCP tool list (both engines)."""

from __future__ import annotations

from tests.agent_tools.conftest import Gateway
from tests.agent_tools.test_mcp import Site


async def test_a_tool_declared_in_cloud_functions_is_served_over_rest(gateway: Gateway) -> None:
    _, token = await gateway.agent("greeter", grants=["greet_customer"])
    listed = await gateway.http.get("http://127.0.0.1/agent/v1/tools", headers={"Authorization": f"Bearer {token}"})
    assert [tool["name"] for tool in listed.json()["tools"]] == ["greet_customer"]
    answer = await gateway.call(token, "read", "greet_customer", {"name": "ann"})
    assert answer.status_code == 200 and answer.json()["result"] == {"text": "hello ann"}, answer.text
    assert (await gateway.last_record())["tool"] == "greet_customer"


async def test_a_tool_declared_in_cloud_functions_is_listed_and_called_over_mcp(site: Site) -> None:
    agent_id, secret = await site.agent("mcp-greeter", ["greet_customer"])
    async with site.mcp(await site.access_token(agent_id, secret)) as session:
        names = [tool.name for tool in (await session.list_tools()).tools]
        assert names == ["greet_customer"]
        result = await session.call_tool("greet_customer", {"name": "bo"})
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["result"] == {"text": "hello bo"}
