"""The MCP face of the gateway: streamable HTTP at ``/mcp`` with the official ``mcp`` SDK.

Thin like the REST face: ``tools/list`` and ``tools/call`` become gateway calls
(same policy, audit, limits, intent shaping). In front of the transport sits
the resource-server guard: a verified access token for this resource (401 with
the RFC 9728 metadata pointer otherwise), and for a ``tools/call`` the scope its
tool needs (403 ``insufficient_scope`` naming it otherwise).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from pydantic import AnyHttpUrl
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from agent_tools.faces.mcp_results import as_mcp_result, as_mcp_tool
from agent_tools.pipeline.admit import FAILED_AUTH_RATE
from agent_tools.pipeline.call import CallRequest, CallResult
from agent_tools.stores.oauth_tokens import SCOPES, AgentTokenVerifier, Claims, scope_for
from backend.api.access_log import note_principal

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agent_tools.wiring import AgentTools

CLAIMS_KEY = "ballast.claims"
RUN_KEY = "ballast.session_run"
REACHED_KEY = "ballast.reached"  # a list the tool handler appends to: the call got to the gateway (which records it)
SESSION_PURPOSE = "/mcp#session"
SESSION_SECONDS = 24 * 3600
MAX_BODY = 1024 * 1024
BATCH_REFUSED = "JSON-RPC batches are not accepted (MCP 2025-06-18): send one message per request."
MAX_AUDITED_INPUT = 2048  # bytes of a refused call's input kept in the audit (more: size and hash)


class McpFace:
    # (the session manager's task group is entered and left by one task of its own: see ``running``)
    """The lowlevel MCP server over the gateway, its session manager and its guarded ASGI app."""

    def __init__(self, tools: AgentTools) -> None:
        self.tools = tools
        self.server: Server[Any] = Server("ballast", version="0.1.0", on_list_tools=self._list_tools,
                                          on_call_tool=self._call_tool)
        self.manager = StreamableHTTPSessionManager(app=self.server, json_response=True, stateless=True)
        self.app = ResourceGuard(tools, StreamableHTTPASGIApp(self.manager))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session manager for the app's lifetime, in a task of its own.

        Its anyio task group must be entered and left by the same task; an app's
        lifespan may start and stop in different tasks (test harnesses do).
        """
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold())
        await asyncio.wait([task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stop.set()
            await task

    async def _intent(self, claims: Claims) -> Any:
        return await self.tools.intents.bind(claims.intent, claims.params) if claims.intent else None

    async def _list_tools(self, ctx: ServerRequestContext[Any], _: Any) -> types.ListToolsResult:
        claims = _claims(ctx)
        gateway = claims.gateway_token is not None
        listed = await self.tools.gateway.list_tools(claims.gateway_token, agent_id=None if gateway else
                                                     claims.agent_id, scopes=None if gateway else claims.scopes,
                                                     intent=await self._intent(claims),
                                                     source=(claims.generation, claims.token_id))
        names = {tool["name"] for tool in listed.body.get("tools", [])}
        return types.ListToolsResult(tools=[as_mcp_tool(tool) for tool in self.tools.registry if tool.name in names])

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                         ) -> types.CallToolResult:
        claims = _claims(ctx)
        tool = self.tools.registry.get(params.name)
        request = ctx.request
        if request is not None and isinstance(reached := request.scope.get(REACHED_KEY), list):
            reached.append(params.name)
        headers = request.headers if request is not None else {}
        try:
            intent = await self._intent(claims)
        except Exception as error:  # noqa: BLE001  (an intent removed since the token was minted)
            body = {"code": 101, "error": str(error), "rule": "intent.unknown"}
            return as_mcp_result(CallResult(404, body))
        # one run per MCP session (its signed session id), unless a run token or the client names another
        session_run = request.scope.get(RUN_KEY) if request is not None else None
        gateway = claims.gateway_token is not None
        call = CallRequest(
            token=claims.gateway_token, tool=params.name, kind=tool.kind if tool else "read",
            input=params.arguments or {},
            run_id=claims.run_id or headers.get("x-ballast-run-id") or session_run or None,
            idempotency_key=headers.get("idempotency-key") or None, agent_id=None if gateway else claims.agent_id,
            scopes=None if gateway else claims.scopes, intent=intent,
            delegation=headers.get("x-ballast-delegation") or None,
            address=ctx.request.client.host if ctx.request is not None and ctx.request.client else None,
            source=(claims.generation, claims.token_id))
        return as_mcp_result(await self.tools.gateway.call(call))


def _claims(ctx: ServerRequestContext[Any]) -> Claims:
    request = ctx.request
    claims = request.scope.get(CLAIMS_KEY) if request is not None else None
    if not isinstance(claims, Claims):  # the guard sets it on every request it lets through
        raise PermissionError("unauthenticated MCP request")
    return claims


class ResourceGuard:
    """OAuth 2.1 resource server in front of the MCP transport (RFC 6750 / RFC 9728 challenges).

    It also makes an MCP session a run: the answer to ``initialize`` carries an ``Mcp-Session-Id`` of ours,
    a signed (agent, run id) pair; a later request bearing it is a call of that run, if it is the same agent's.
    The transport stays stateless (any instance serves any request): the session lives in that id.
    """

    def __init__(self, tools: AgentTools, app: Any) -> None:
        self.tools, self.app = tools, app
        self.resource = tools.oauth.resource
        self.metadata_url = str(build_resource_metadata_url(AnyHttpUrl(self.resource)))
        self.verifier = AgentTokenVerifier(tools.oauth)
        self.backend = BearerAuthBackend(self.verifier, resource_server_url=AnyHttpUrl(self.resource))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = await self.backend.authenticate(HTTPConnection(scope))
        credentials, user = authenticated or (None, None)
        claims = await self.verifier.claims(user.access_token.token) if isinstance(user, AuthenticatedUser) else None
        if claims is None:
            await self._unauthenticated(scope, receive, send)
            return
        note_principal(scope, "agent")
        scope = dict(scope) | {"user": user, "auth": credentials, CLAIMS_KEY: claims,
                               RUN_KEY: self._session_run(HTTPConnection(scope), claims)}
        if scope["method"] == "GET":  # no server-initiated stream: each instance answers each POST on its own
            await _no_stream(send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if _is_batch(body):  # MCP 2025-06-18 removed JSON-RPC batching: refused whole, whatever the SDK does
            await self._refused(body, claims, "mcp.batch", BATCH_REFUSED)
            await _json_rpc_error(send, -32600, BATCH_REFUSED)
            return
        needed = self._needed(body, claims)
        if needed:
            message = f"This call needs the {needed} scope."
            await self._refused(body, claims, "scope.insufficient", message)
            await self._challenge(send, 403, "insufficient_scope", message, needed)
            return
        if _is_initialize(body):
            session = self.tools.oauth.sign({"agent": claims.agent_id, "run": "run_" + secrets.token_hex(8)},
                                            SESSION_PURPOSE, SESSION_SECONDS)
            send = _with_header(send, b"mcp-session-id", session.encode())
        reached: list[str] = []
        status: list[int] = []
        await self.app(scope | {REACHED_KEY: reached}, _replay(body, receive), _noting_status(send, status))
        if not reached and (_tool_calls(body) or (status and status[0] >= 400)):
            # refused by the protocol layer (malformed JSON-RPC, bad params) before any tool handler ran
            await self._refused(body, claims, "mcp.invalid_request", "The MCP request was malformed or invalid.")

    def _session_run(self, connection: HTTPConnection, claims: Claims) -> str | None:
        """The run of the MCP session this request belongs to (a session id of another agent's: none)."""
        session = connection.headers.get("mcp-session-id")
        data = self.tools.oauth.unsign(session, SESSION_PURPOSE) if session and len(session) < 1024 else None
        if data is None or data.get("agent") != claims.agent_id or not isinstance(data.get("run"), str):
            return None
        return str(data["run"])

    def _needed(self, body: bytes, claims: Claims) -> str | None:
        """The scope a ``tools/call`` in this JSON-RPC body needs and the token lacks, if any."""
        for name, _ in _tool_calls(body):
            tool = self.tools.registry.get(name)
            if tool is not None and scope_for(tool.kind) not in claims.scopes:
                return scope_for(tool.kind)
        return None

    async def _unauthenticated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """401 (429 once an address keeps failing, shared with REST), each POST recorded once, bounded."""
        message = "A valid access token for this resource is required."
        address = scope["client"][0] if scope.get("client") else None
        limits = self.tools.limits
        if address and not await limits.within(FAILED_AUTH_RATE, "auth-failed", address):
            message = "Too many failed authentications from this address; wait a minute."
            if scope["method"] == "POST":
                await self._refused(await _read_body(receive), None, "rate.address", message)
            await self._challenge(send, 429, "invalid_token", message)
            return
        if address:
            await limits.hit(FAILED_AUTH_RATE, "auth-failed", address)
        if scope["method"] == "POST":
            await self._refused(await _read_body(receive), None, "token.unknown", message)
        await self._challenge(send, 401, "invalid_token", message)

    async def _refused(self, body: bytes, claims: Claims | None, rule: str, message: str) -> None:
        """One audit record per request refused before the gateway (no token, a scope short, malformed), as
        REST has: a JSON-RPC batch of many calls is one record (its input bounded), never one per call."""
        calls = _tool_calls(body)
        batch = _is_batch(body)
        name, arguments = calls[0] if len(calls) == 1 and not batch else (
            "(batch)" if calls or batch else "(request)", None)
        if len(calls) != 1 or batch:
            arguments = {"calls": len(calls), "tools": sorted({called[:128] for called, _ in calls})[:20],
                         "body": bounded(_parsed(body)) if body else None}
        tool = self.tools.registry.get(name)
        await self.tools.ready()  # the first request a fresh process gets may be this one (its head: not yet read)
        await self.tools.audit.record({
            "agentId": claims.agent_id if claims else None, "runId": claims.run_id if claims else None,
            "tool": name[:128], "kind": tool.kind if tool else "read", "input": bounded(arguments),
            "decision": "deny", "rule": rule, "outcome": "blocked", "error": message, "face": "mcp"})

    async def _challenge(self, send: Send, status: int, error: str, description: str, scope: str | None = None
                         ) -> None:
        parts = [f'error="{error}"', f'error_description="{description}"']
        if scope:
            parts.append(f'scope="{scope}"')
        parts.append(f'resource_metadata="{self.metadata_url}"')
        payload = orjson.dumps({"error": error, "error_description": description} | ({"scope": scope} if scope
                                                                                        else {}))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode())]})
        await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:  # the transport's own limit answers it; we only stop buffering
            chunks.append(chunk)
            break
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _no_stream(send: Send) -> None:
    """405 to ``GET /mcp``: the spec's answer of a server without a standalone SSE stream (clients go on).

    The stateless transport would answer 200 and end the stream at once; a client that then reused that
    connection for its next POST found it closed ("other side closed" in the TypeScript SDK).
    """
    await send({"type": "http.response.start", "status": 405,
                "headers": [(b"allow", b"POST, DELETE"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _parsed(body: bytes) -> Any:
    """The JSON of a body, or what the audit keeps of one that is not JSON (its size and hash)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"unparsable": True, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _noting_status(send: Send, status: list[int]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        await send(message)

    return sending


def _tool_calls(body: bytes) -> list[tuple[str, Any]]:
    """(tool name, arguments) of each ``tools/call`` in a JSON-RPC body (one message or a batch)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []  # the transport answers the parse error
    calls: list[tuple[str, Any]] = []
    for message in parsed if isinstance(parsed, list) else [parsed]:
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            continue
        params = message.get("params")
        if isinstance(params, dict) and isinstance(params.get("name"), str):
            calls.append((params["name"], params.get("arguments")))
        else:  # malformed: the transport refuses it, and the refusal is still this call's record
            calls.append(("(invalid)", params))
    return calls


def bounded(value: Any) -> Any:
    """What the audit keeps of a refused call's input: small as is, otherwise its size and hash."""
    try:
        raw = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return {"unreadable": True}
    if len(raw) <= MAX_AUDITED_INPUT:
        return value
    return {"truncated": True, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _is_batch(body: bytes) -> bool:
    return body.lstrip()[:1] == b"["  # a JSON array at the top: a JSON-RPC batch (or not JSON at all)


async def _json_rpc_error(send: Send, code: int, message: str) -> None:
    payload = orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _is_initialize(body: bytes) -> bool:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("method") == "initialize"


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message.get("status") == 200:
            message = dict(message) | {"headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def mount(app: FastAPI, tools: AgentTools) -> McpFace:
    """``/mcp``, its protected-resource metadata, the OAuth endpoints and the intents admin API."""
    from agent_tools.faces.intents_api import router as intents_router
    from agent_tools.faces.oauth_api import oauth_routes

    face = McpFace(tools)
    app.router.routes.append(Route("/mcp", endpoint=face.app, methods=["GET", "POST", "DELETE"]))
    app.router.routes.extend(create_protected_resource_routes(
        AnyHttpUrl(tools.oauth.resource), [AnyHttpUrl(tools.oauth.issuer)], scopes_supported=list(SCOPES),
        resource_name="Ballast agent tools"))
    app.router.routes.extend(oauth_routes(tools))
    app.include_router(intents_router)
    return face
