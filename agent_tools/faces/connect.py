"""Ready-to-paste set-up for common MCP clients (``ballast agents connect NAME``).

Two ways in, both without minting anything by hand: with a token (the agent's
own gateway token, accepted as a bearer on ``/mcp``; or client credentials,
which the official SDKs refresh by themselves), or with no secret at all, for
clients that sign in with OAuth (they register, a person approves on the
consent page, refresh tokens keep them in).
"""

from __future__ import annotations

import json
import shlex

INSPECTOR = "npx @modelcontextprotocol/inspector"


def desktop_config(mcp_url: str, token: str | None) -> str:
    """The ``mcpServers`` JSON of desktop and IDE agents (a bearer header, or nothing: they sign in by OAuth)."""
    server: dict[str, object] = {"type": "http", "url": mcp_url}
    if token:
        server["headers"] = {"Authorization": f"Bearer {token}"}
    return json.dumps({"mcpServers": {"ballast": server}}, indent=2)


def python_snippet(mcp_url: str, origin: str, agent_id: str, token: str | None) -> str:
    """The official ``mcp`` Python client signing in with client credentials (token refreshed by the SDK)."""
    secret = token or "<the agent's gateway token>"
    return f'''import asyncio

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class Memory:  # where the SDK keeps its tokens
    tokens: OAuthToken | None = None
    client: OAuthClientInformationFull | None = None
    async def get_tokens(self): return self.tokens
    async def set_tokens(self, tokens): self.tokens = tokens
    async def get_client_info(self): return self.client
    async def set_client_info(self, info): self.client = info


async def main() -> None:
    auth = ClientCredentialsOAuthProvider({mcp_url!r}, Memory(), {agent_id!r}, {secret!r}, issuer={origin!r})
    async with (httpx2.AsyncClient(auth=auth) as http,
                streamable_http_client({mcp_url!r}, http_client=http) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        print([tool.name for tool in (await session.list_tools()).tools])


asyncio.run(main())'''


def inspector_command(mcp_url: str, token: str | None) -> str:
    """The MCP Inspector's CLI listing the tools (Node >= 22.19); without a token, its UI signs in by OAuth."""
    if not token:
        return f"{INSPECTOR}   # then: transport Streamable HTTP, URL {mcp_url}, Connect (signs in by OAuth)"
    return " ".join([INSPECTOR, "--cli", shlex.quote(mcp_url), "--transport", "http", "--method", "tools/list",
                     "--header", shlex.quote(f"Authorization: Bearer {token}")])


def connect_text(origin: str, agent_id: str, name: str, token: str | None) -> str:
    mcp_url = origin + "/mcp"
    how = ("with a new gateway token of " + name + " (shown once: treat the output as a secret)" if token else
           "with no secret: the client signs in by OAuth and a person approves it, choosing agent " + name)
    return "\n\n".join([
        f"# MCP server: {mcp_url}, {how}",
        "## Desktop and IDE agents (mcpServers JSON)", desktop_config(mcp_url, token),
        "## Python (the official mcp SDK, client credentials)", python_snippet(mcp_url, origin, agent_id, token),
        "## MCP Inspector", inspector_command(mcp_url, token),
    ])
