"""Signing in to /mcp the way MCP clients do, with the official Python client's own OAuth support.

Client credentials (a headless agent), authorization code + PKCE with dynamic
registration and the consent page (driven here as a person would, by posting
its form), rotating refresh tokens, the gateway token as bearer, and an MCP
session as one run. A live server on both engines.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import mcp_types as types
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from tests.agent_tools.test_mcp import ADMIN, Site

REDIRECT = "http://127.0.0.1:9/callback"  # never reached: the test reads the code from the redirect itself
DESK_ADMIN_PASSWORD = "desk-admin-password-1"  # a console admin the master key creates (never the key itself)


class Memory:
    """The client's token storage (the TokenStorage protocol), in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def consent(http: httpx.AsyncClient, authorize_url: str, **form: str) -> httpx.Response:
    """A person at the browser: the authorization URL leads to the consent page; they fill it in and submit."""
    sent = await http.get(authorize_url)
    assert sent.status_code == 302, sent.text
    page = await http.get(sent.headers["location"])
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    signed = re.search(r'name="request" value="([^"]+)"', page.text)
    assert signed is not None
    return await http.post(sent.headers["location"].split("?")[0], data={"request": signed.group(1), **form})


def redirected(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


class Browser:
    """The redirect and callback handlers of the official client, with a scripted person behind them."""

    def __init__(self, http: httpx.AsyncClient, form: dict[str, str]) -> None:
        self.http, self.form = http, form
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, url: str) -> None:
        query = redirected(await consent(self.http, url, **self.form))
        self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"))

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@asynccontextmanager
async def signed_in(site: Site, auth: httpx2.Auth) -> AsyncIterator[ClientSession]:
    async with (httpx2.AsyncClient(auth=auth, timeout=30) as client,
                streamable_http_client(f"{site.origin}/mcp", http_client=client) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        yield session


def text_of(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


async def test_metadata_has_every_field_clients_need(site: Site) -> None:
    server = (await site.http.get(f"{site.origin}/.well-known/oauth-authorization-server")).json()
    assert server["issuer"].rstrip("/") == site.origin
    for name, path in (("authorization_endpoint", "/oauth/authorize"), ("token_endpoint", "/oauth/token"),
                       ("registration_endpoint", "/oauth/register"), ("revocation_endpoint", "/oauth/revoke")):
        assert server[name] == site.origin + path, name
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["response_types_supported"] == ["code"]
    assert set(server["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert set(server["scopes_supported"]) == {"tools:read", "tools:write"}
    resource = (await site.http.get(f"{site.origin}/.well-known/oauth-protected-resource/mcp")).json()
    assert resource["resource"] == f"{site.origin}/mcp"


async def test_client_credentials_with_the_official_client_and_one_run_per_session(site: Site) -> None:
    order = await site.seed("Order", status="new")
    agent_id, secret = await site.agent("cc-clerk", ["read:*", "write:*"])
    runs = []
    for _ in range(2):
        auth = ClientCredentialsOAuthProvider(f"{site.origin}/mcp", Memory(), agent_id, secret, issuer=site.origin)
        async with signed_in(site, auth) as session:
            assert "update_object" in {tool.name for tool in (await session.list_tools()).tools}
            got = await session.call_tool("get_object", {"className": "Order", "objectId": order})
            wrote = await session.call_tool("update_object", {"className": "Order", "objectId": order,
                                                              "fields": {"status": "paid"}})
            assert got.structured_content is not None and wrote.structured_content is not None
            assert got.structured_content["runId"] == wrote.structured_content["runId"]  # one session, one run
            runs.append(got.structured_content["runId"])
    assert runs[0] != runs[1]  # another session, another run
    records = await site.records(agentId=agent_id)
    assert [(r["tool"], r["runId"]) for r in records] == [("get_object", runs[0]), ("update_object", runs[0]),
                                                          ("get_object", runs[1]), ("update_object", runs[1])]


async def test_gateway_token_as_bearer_and_a_stolen_session_id_gives_no_run(site: Site) -> None:
    order = await site.seed("Order", status="new")
    agent_id, secret = await site.agent("plain-bearer", ["read:*"])
    _, other = await site.agent("other-bearer", ["read:*"])
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    opened = await site.http.post(f"{site.origin}/mcp", json=init, headers=headers)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    stream = await site.http.get(f"{site.origin}/mcp", headers=headers | {"Mcp-Session-Id": session})
    assert stream.status_code == 405  # no standalone SSE stream (a 200 that ended at once broke TS keep-alive)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "get_object", "arguments": {"className": "Order", "objectId": order}}}
    mine = await site.http.post(f"{site.origin}/mcp", json=call, headers=headers | {"Mcp-Session-Id": session})
    run = mine.json()["result"]["structuredContent"]["runId"]
    again = await site.http.post(f"{site.origin}/mcp", json=call, headers=headers | {"Mcp-Session-Id": session})
    assert again.json()["result"]["structuredContent"]["runId"] == run
    stolen = await site.http.post(f"{site.origin}/mcp", json=call, headers=headers | {
        "Authorization": f"Bearer {other}", "Mcp-Session-Id": session})
    assert stolen.json()["result"]["structuredContent"]["runId"] != run  # another agent's session is not its run
    assert (await site.admin("DELETE", f"/agents/{agent_id}/tokens")).status_code == 200
    refused = await site.http.post(f"{site.origin}/mcp", json=call, headers=headers)
    assert refused.status_code == 401  # a revoked gateway token is refused on the next call


async def test_authorization_code_with_pkce_consent_and_refresh(site: Site) -> None:
    order = await site.seed("Order", status="new")
    made = await site.admin("POST", "/admins", json={"username": "desk-admin", "password": DESK_ADMIN_PASSWORD})
    assert made.status_code in (200, 201), made.text
    browser = Browser(site.http, {"as": "admin", "username": "desk-admin", "password": DESK_ADMIN_PASSWORD,
                                  "agent": "desk-agent", "grants": "read:*",
                                  "scope:tools:read": "1", "decision": "allow"})
    storage = Memory()
    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl(REDIRECT)], client_name="Desk", grant_types=[
        "authorization_code", "refresh_token"], response_types=["code"], scope="tools:read tools:write")
    auth = OAuthClientProvider(f"{site.origin}/mcp", metadata, storage, browser.redirect, browser.callback)
    async with signed_in(site, auth) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert "get_object" in names and "update_object" not in names  # the person allowed tools:read only
        got = await session.call_tool("get_object", {"className": "Order", "objectId": order})
        assert got.structured_content is not None and got.structured_content["result"]["object"]["status"] == "new"
    assert storage.tokens is not None and storage.tokens.refresh_token and storage.client is not None
    agents = (await site.admin("GET", "/agents")).json()["results"]
    desk = next(agent for agent in agents if agent["name"] == "desk-agent")
    assert desk["grants"] == ["read:*"]
    events = await site.http.get(f"{site.parse}/classes/_SecurityEvent", params={"where": '{"event":"oauth.consent"}'},
                                 headers=ADMIN)
    assert [(e["target"], e["actor"], e["details"]["scopes"]) for e in events.json()["results"]] == [
        (desk["id"], "admin:desk-admin", ["tools:read"])]
    # the refresh token rotates: the new one works once, the old one never again
    token_url = f"{site.origin}/oauth/token"
    client = {"client_id": storage.client.client_id, "client_secret": storage.client.client_secret or ""}
    first = await site.http.post(token_url, data={"grant_type": "refresh_token",
                                                  "refresh_token": storage.tokens.refresh_token, **client})
    assert first.status_code == 200, first.text
    assert first.json()["refresh_token"] != storage.tokens.refresh_token and first.json()["scope"] == "tools:read"
    replayed = await site.http.post(token_url, data={"grant_type": "refresh_token",
                                                     "refresh_token": storage.tokens.refresh_token, **client})
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    # a suspended agent's refresh token gets nothing
    assert (await site.admin("POST", f"/agents/{desk['id']}/suspend")).status_code == 200
    suspended = await site.http.post(token_url, data={"grant_type": "refresh_token",
                                                      "refresh_token": first.json()["refresh_token"], **client})
    assert suspended.status_code == 400 and suspended.json()["error"] == "invalid_grant"


async def test_consent_refusals_deny_and_one_time_codes(site: Site) -> None:
    owner = await site.http.post(f"{site.parse}/users", json={"username": "ann", "password": "pw-ann-1"},
                                 headers={k: v for k, v in ADMIN.items() if k != "X-Parse-Master-Key"})
    assert owner.status_code == 201, owner.text
    answer = await site.admin("POST", "/agents", json={"name": "ann-agent", "grants": ["read:*"],
                                                       "owner": owner.json()["objectId"]})
    assert answer.status_code == 201
    await site.agent("someone-elses", ["read:*"])
    registered = await site.http.post(f"{site.origin}/oauth/register", json={
        "redirect_uris": [REDIRECT], "client_name": "Scripted", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    authorize = (f"{site.origin}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}"
                 f"&state=s1&code_challenge={challenge}&code_challenge_method=S256&scope=tools:read")
    ann = {"username": "ann", "password": "pw-ann-1", "scope:tools:read": "1", "decision": "allow"}
    wrong = await consent(site.http, authorize, **ann | {"password": "nope"})
    assert wrong.status_code == 400 and "Sign-in failed" in wrong.text
    theirs = await consent(site.http, authorize, **ann | {"agent": "someone-elses"})
    assert theirs.status_code == 400 and "You own no agent" in theirs.text
    created = await consent(site.http, authorize, **ann | {"agent": "brand-new"})
    assert created.status_code == 400 and "an admin can create it" in created.text
    denied = redirected(await consent(site.http, authorize, **ann | {"agent": "ann-agent", "decision": "deny"}))
    assert denied == {"error": "access_denied", "state": "s1"}
    granted = redirected(await consent(site.http, authorize, **ann | {"agent": "ann-agent"}))
    assert granted["state"] == "s1"
    exchange = {"grant_type": "authorization_code", "code": granted["code"], "redirect_uri": REDIRECT,
                "client_id": client_id}
    bad_verifier = await site.http.post(f"{site.origin}/oauth/token", data=exchange | {"code_verifier": "w" * 64})
    assert bad_verifier.status_code == 400 and bad_verifier.json()["error"] == "invalid_grant"
    tokens = await site.http.post(f"{site.origin}/oauth/token", data=exchange | {"code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    again = await site.http.post(f"{site.origin}/oauth/token", data=exchange | {"code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # a code works once
    listed = await site.http.post(f"{site.origin}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                  headers={"Authorization": f"Bearer {tokens.json()['access_token']}",
                                           "Accept": "application/json, text/event-stream",
                                           "MCP-Protocol-Version": "2025-06-18"})
    assert listed.status_code == 200 and listed.json()["result"]["tools"]
    revoked = await site.admin("DELETE", f"/agents/{answer.json()['agent']['id']}/tokens")
    assert revoked.status_code == 200 and revoked.json()["oauthGrants"] == 1  # its refresh token dies with it
    refresh = await site.http.post(f"{site.origin}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"], "client_id": client_id})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    expired = await site.http.get(f"{site.origin}/oauth/consent", params={"request": "forged"})
    assert expired.status_code == 400
