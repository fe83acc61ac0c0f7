"""The MCP face of the gateway: streamable HTTP at ``/mcp`` with the official ``mcp`` SDK.

Thin like the REST face: ``tools/list`` and ``tools/call`` become gateway calls
(same policy, audit, limits, intent shaping). In front of the transport sits
the resource-server guard: a verified access token for this resource (401 with
the RFC 9728 metadata pointer otherwise), and for a ``tools/call`` the scope its
tool needs (403 ``insufficient_scope`` naming it otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import mcp_types as types
import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from pydantic import AnyHttpUrl, BaseModel, create_model
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from agent_tools.gateway import CallRequest, CallResult
from agent_tools.oauth import SCOPES, AgentTokenVerifier, Claims, scope_for
from agent_tools.registry import Tool
from agent_tools.shaping import UNTRUSTED_LABEL

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agent_tools.service import AgentTools

CLAIMS_KEY = "ballast.claims"
MAX_BODY = 1024 * 1024


class ApprovalInfo(BaseModel):
    id: str
    status: str
    expiresAt: Any = None
    preview: Any = None


class UntrustedItem(BaseModel):
    ref: str
    className: str
    objectId: str
    field: str
    value: Any = None


class UntrustedPart(BaseModel):
    label: str
    items: list[UntrustedItem]


@lru_cache(maxsize=512)
def envelope(output_model: type[BaseModel]) -> type[BaseModel]:
    """The structured output of a tool over MCP: its result (or a pending approval) and the untrusted part."""
    status: Any = Literal["ok", "pending"]
    result: Any = output_model | None
    model: type[BaseModel] = create_model(
        f"{output_model.__name__}Envelope",
        status=(status, ...), runId=(str, ...), tool=(str, ...),
        version=(str | None, None), audit=(int | None, None), result=(result, None),
        approval=(ApprovalInfo | None, None), reason=(str | None, None), rule=(str | None, None),
        untrusted=(UntrustedPart | None, None), intent=(str | None, None), replayed=(bool | None, None),
    )
    return model


def hints(tool: Tool) -> types.ToolAnnotations:
    """MCP annotations from the registry's declaration."""
    read = tool.kind == "read"
    destructive = not read and ("delete" in tool.name or tool.risk == "high" or not tool.transactional)
    return types.ToolAnnotations(title=tool.name.replace("_", " "), read_only_hint=read,
                                 destructive_hint=destructive, idempotent_hint=read, open_world_hint=False)


def as_mcp_tool(tool: Tool) -> types.Tool:
    declared = tool.describe()
    return types.Tool(name=tool.name, description=tool.description, input_schema=declared["inputSchema"],
                      output_schema=envelope(tool.output_model).model_json_schema(), annotations=hints(tool),
                      _meta={"ballast/version": declared["version"], "ballast/kind": tool.kind,
                             "ballast/risk": tool.risk, "ballast/scope": scope_for(tool.kind)})


def as_mcp_result(result: CallResult) -> types.CallToolResult:
    body = dict(result.body)
    if result.status not in (200, 202):
        return types.CallToolResult(content=[types.TextContent(text=orjson.dumps(body).decode())], is_error=True,
                                    structured_content=body)
    body["status"] = "ok" if result.status == 200 else "pending"
    untrusted = body.get("untrusted")
    instructions = {key: value for key, value in body.items() if key != "untrusted"}
    content: list[types.ContentBlock] = [types.TextContent(text=orjson.dumps(instructions).decode())]
    if untrusted:  # a separate, labelled block: never mixed into the result the model acts on
        content.append(types.TextContent(text=f"[{UNTRUSTED_LABEL}]\n" + orjson.dumps(untrusted).decode()))
    return types.CallToolResult(content=content, structured_content=body)


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
        listed = await self.tools.gateway.list_tools(None, agent_id=claims.agent_id, scopes=claims.scopes,
                                                     intent=await self._intent(claims),
                                                     source=(claims.generation, claims.token_id))
        names = {tool["name"] for tool in listed.body.get("tools", [])}
        return types.ListToolsResult(tools=[as_mcp_tool(tool) for tool in self.tools.registry if tool.name in names])

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                         ) -> types.CallToolResult:
        claims = _claims(ctx)
        tool = self.tools.registry.get(params.name)
        headers = ctx.request.headers if ctx.request is not None else {}
        try:
            intent = await self._intent(claims)
        except Exception as error:  # noqa: BLE001  (an intent removed since the token was minted)
            body = {"code": 101, "error": str(error), "rule": "intent.unknown"}
            return as_mcp_result(CallResult(404, body))
        call = CallRequest(
            token=None, tool=params.name, kind=tool.kind if tool else "read", input=params.arguments or {},
            run_id=claims.run_id or headers.get("x-ballast-run-id") or None,
            idempotency_key=headers.get("idempotency-key") or None, agent_id=claims.agent_id, scopes=claims.scopes,
            intent=intent, delegation=headers.get("x-ballast-delegation") or None,
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
    """OAuth 2.1 resource server in front of the MCP transport (RFC 6750 / RFC 9728 challenges)."""

    def __init__(self, tools: AgentTools, app: Any) -> None:
        self.tools, self.app = tools, app
        self.resource = tools.oauth.resource
        self.metadata_url = str(build_resource_metadata_url(AnyHttpUrl(self.resource)))
        self.backend = BearerAuthBackend(AgentTokenVerifier(tools.oauth), resource_server_url=AnyHttpUrl(self.resource))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = await self.backend.authenticate(HTTPConnection(scope))
        if authenticated is None:
            await self._challenge(send, 401, "invalid_token", "A valid access token for this resource is required.")
            return
        credentials, user = authenticated
        assert isinstance(user, AuthenticatedUser)
        claims = self.tools.oauth.verify(user.access_token.token)
        if claims is None:  # pragma: no cover - the backend verified the same token a moment ago
            await self._challenge(send, 401, "invalid_token", "A valid access token for this resource is required.")
            return
        scope = dict(scope) | {"user": user, "auth": credentials, CLAIMS_KEY: claims}
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        needed = self._needed(body, claims)
        if needed:
            await self._challenge(send, 403, "insufficient_scope", f"This call needs the {needed} scope.", needed)
            return
        await self.app(scope, _replay(body, receive), send)

    def _needed(self, body: bytes, claims: Claims) -> str | None:
        """The scope a ``tools/call`` in this JSON-RPC body needs and the token lacks, if any."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the transport answers the parse error
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(message, dict) or message.get("method") != "tools/call":
                continue
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            tool = self.tools.registry.get(name) if isinstance(name, str) else None
            if tool is not None and scope_for(tool.kind) not in claims.scopes:
                return scope_for(tool.kind)
        return None

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
    from agent_tools.intents_api import router as intents_router
    from agent_tools.oauth_api import router as oauth_router

    face = McpFace(tools)
    app.router.routes.append(Route("/mcp", endpoint=face.app, methods=["GET", "POST", "DELETE"]))
    app.router.routes.extend(create_protected_resource_routes(
        AnyHttpUrl(tools.oauth.resource), [AnyHttpUrl(tools.oauth.issuer)], scopes_supported=list(SCOPES),
        resource_name="Ballast agent tools"))
    app.include_router(oauth_router)
    app.include_router(intents_router)
    return face
