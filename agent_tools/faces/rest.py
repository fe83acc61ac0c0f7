"""The REST face of the gateway: ``/agent/v1/tools``, ``/agent/v1/read/{tool}``, ``/agent/v1/write/{tool}``.

Thin on purpose: headers and body become a ``CallRequest``, the gateway's
``CallResult`` becomes the response. The MCP face does the same translation.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.routing import Route

from agent_tools.pipeline.call import CallRequest, CallResult
from agent_tools.pipeline.runs import with_access_token
from agent_tools.stores.agents import TOKEN_PREFIX
from agent_tools.wiring import AgentTools
from backend.api.access_log import note_principal
from backend.api.auth import client_ip
from backend.api.responses import ParseJSON

PREFIX = "/agent/v1"
MAX_BODY = 1024 * 1024


def agent_tools_of(request: Request) -> AgentTools:
    tools: AgentTools = request.app.state.agent_tools
    return tools


Tools = Annotated[AgentTools, Depends(agent_tools_of)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def input_of(request: Request) -> Any:
    raw = await request.body()
    # anything but a JSON object reaches the gateway as a string it refuses (and audits) as invalid input
    if len(raw) > MAX_BODY:
        return "<invalid: body too large>"
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "<invalid: not JSON>"


def respond(result: CallResult) -> ParseJSON:
    return ParseJSON(result.body, status_code=result.status, headers={"X-Ballast-Run-Id": result.body["runId"]})


async def _call(request: Request, kind: str) -> ParseJSON:
    tools = agent_tools_of(request)
    call = CallRequest(
        token=bearer(request), tool=request.path_params["tool"], kind=kind, input=await input_of(request),
        run_id=(request.headers.get("x-ballast-run-id") or None),
        idempotency_key=(request.headers.get("idempotency-key") or None) if kind == "write" else None,
        user_token=request.headers.get("x-parse-session-token") or None,
        delegation=request.headers.get("x-ballast-delegation") or None,
        address=client_ip(request),
    )
    if call.token is not None and not call.token.startswith(TOKEN_PREFIX):
        call = await with_access_token(tools, call)  # an OAuth access / run token: the same path as over MCP
    result = await tools.gateway.call(call)
    if result.status != 401:  # the gateway knew the token: the access line names an agent
        note_principal(request.scope, "agent")
    return respond(result)


router = APIRouter(prefix=PREFIX, tags=["agent tools"])


@router.get("/tools")
async def list_tools(request: Request, tools: Tools) -> ParseJSON:
    listed = await tools.gateway.list_tools(bearer(request))
    return ParseJSON(listed.body, status_code=listed.status)


# Tool calls are plain Starlette endpoints (no FastAPI dependency solving: a fifth of a cheap call's CPU)
async def call_read_tool(request: Request) -> ParseJSON:
    return await _call(request, "read")


async def call_write_tool(request: Request) -> ParseJSON:
    return await _call(request, "write")


TOOL_ROUTES = (Route(PREFIX + "/read/{tool}", call_read_tool, methods=["POST"]),
               Route(PREFIX + "/write/{tool}", call_write_tool, methods=["POST"]))
