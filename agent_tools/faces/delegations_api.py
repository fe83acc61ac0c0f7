"""``/agent/v1/delegations``: a signed-in user lets one agent act for them, through the gateway only.

Called with the user's own session (``X-Parse-Session-Token``), never with agent credentials:
an agent cannot mint its own delegation, even holding a user's session beside its token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from agent_tools.faces.admin_auth import AdminRefused, agent_credentials_in
from agent_tools.faces.rest import PREFIX, Tools
from agent_tools.pipeline.delegations import MAX_MINUTES
from backend.api.responses import ParseJSON
from backend.context import Principal, PrincipalKind
from backend.deps import Ctx
from backend.errors import InvalidSessionToken

router = APIRouter(prefix=PREFIX + "/delegations", tags=["delegations"])


class NewDelegation(BaseModel):
    agent: str = Field(min_length=1, max_length=128, description="The agent's name or id.")
    intent: str | None = Field(None, min_length=1, max_length=128, description="Only runs of this intent.")
    minutes: int = Field(60, ge=1, le=MAX_MINUTES)


def _user(request: Request, ctx: Ctx) -> Principal:
    if agent_credentials_in(request):
        raise AdminRefused("delegation.agent_credentials: only the user, with their own session, delegates.")
    if ctx.principal.kind != PrincipalKind.USER or ctx.principal.user_id is None:
        raise InvalidSessionToken("delegation.user_required: a delegation is granted by a signed-in user.")
    return ctx.principal


@router.post("")
async def grant(body: NewDelegation, request: Request, ctx: Ctx, tools: Tools) -> ParseJSON:
    user = _user(request, ctx)
    await tools.ready()
    delegation, token = await tools.delegations.grant(user, body.agent, body.intent, body.minutes)
    return ParseJSON(delegation.to_wire() | {"token": token}, status_code=201)


@router.get("")
async def mine(request: Request, ctx: Ctx, tools: Tools) -> ParseJSON:
    user = _user(request, ctx)
    await tools.ready()
    return ParseJSON({"results": [d.to_wire() for d in await tools.delegations.of_user(str(user.user_id))]})


@router.delete("/{delegation_id}")
async def revoke(delegation_id: str, request: Request, ctx: Ctx, tools: Tools) -> ParseJSON:
    user = _user(request, ctx)
    await tools.ready()
    return ParseJSON((await tools.delegations.revoke(str(user.user_id), delegation_id)).to_wire())
