"""The admin API under ``/agent/v1/admin``: agents, tokens, grants, approvals, audit, policy.

Master key (or a user holding the ``admin`` role); the read-only master key
may look but not change. The web console and the CLI use the same services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from agent_tools.api import PREFIX, Tools
from backend.api.responses import ParseJSON
from backend.context import RequestContext
from backend.deps import Ctx
from backend.errors import OperationForbidden

ADMIN_ROLE = "admin"


def _admin(ctx: Ctx) -> RequestContext:
    principal = ctx.principal
    if not (principal.is_master or ADMIN_ROLE in principal.roles):
        raise OperationForbidden("unauthorized: the master key or the admin role is required")
    return ctx


def _admin_write(ctx: Annotated[RequestContext, Depends(_admin)]) -> RequestContext:
    if ctx.principal.is_read_only:
        raise OperationForbidden("read-only masterKey isn't allowed to change agents, approvals or policy.")
    return ctx


Admin = Annotated[RequestContext, Depends(_admin)]
AdminWrite = Annotated[RequestContext, Depends(_admin_write)]
router = APIRouter(prefix=PREFIX + "/admin", tags=["agent admin"])


def who(ctx: RequestContext) -> str:
    return ctx.principal.user_id or ctx.principal.kind.value


class NewAgent(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    roles: list[str] = Field(default_factory=list)
    grants: list[str] = Field(default_factory=lambda: ["read:*"])
    owner: str | None = None
    tokenDays: int | None = Field(None, ge=1, le=3650)


class Grants(BaseModel):
    roles: list[str] | None = None
    grants: list[str] | None = None


class NewToken(BaseModel):
    days: int | None = Field(None, ge=1, le=3650)
    revokeOthers: bool = False


class Decide(BaseModel):
    reason: str = Field("", max_length=1000)


@router.post("/agents")
async def create_agent(body: NewAgent, tools: Tools, _: AdminWrite) -> ParseJSON:
    await tools.ready()
    agent, token = await tools.agents.create(body.name, body.roles, body.grants, body.owner, body.tokenDays)
    return ParseJSON({"agent": agent.to_wire(), "token": token}, status_code=201)


@router.get("/agents")
async def list_agents(tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"results": [agent.to_wire() for agent in await tools.agents.all()]})


@router.get("/agents/{agent_id}")
async def show_agent(agent_id: str, tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    raw = await tools.agents._raw(agent_id)
    return ParseJSON((await tools.agents.get(agent_id)).to_wire() | {"tokens": tools.agents.tokens_of(raw)})


@router.post("/agents/{agent_id}/suspend")
async def suspend_agent(agent_id: str, tools: Tools, _: AdminWrite) -> ParseJSON:
    return ParseJSON((await tools.agents.set_status(agent_id, "suspended")).to_wire())


@router.post("/agents/{agent_id}/resume")
async def resume_agent(agent_id: str, tools: Tools, _: AdminWrite) -> ParseJSON:
    return ParseJSON((await tools.agents.set_status(agent_id, "active")).to_wire())


@router.put("/agents/{agent_id}/grants")
async def set_grants(agent_id: str, body: Grants, tools: Tools, _: AdminWrite) -> ParseJSON:
    return ParseJSON((await tools.agents.set_grants(agent_id, body.roles, body.grants)).to_wire())


@router.post("/agents/{agent_id}/tokens")
async def rotate_token(agent_id: str, body: NewToken, tools: Tools, _: AdminWrite) -> ParseJSON:
    token = await tools.agents.issue_token(agent_id, body.days, revoke_others=body.revokeOthers)
    return ParseJSON({"token": token}, status_code=201)


@router.delete("/agents/{agent_id}/tokens")
async def revoke_tokens(agent_id: str, tools: Tools, _: AdminWrite, tokenId: str | None = None) -> ParseJSON:
    revoked = await tools.agents.revoke_token(agent_id, tokenId)
    if tokenId is None:  # all of them: the OAuth codes and refresh tokens granted to the agent die too
        return ParseJSON({"revoked": revoked, "oauthGrants": await tools.grants.forget_agent(agent_id)})
    return ParseJSON({"revoked": revoked})


@router.get("/approvals")
async def list_approvals(tools: Tools, _: Admin, status: str | None = None, agentId: str | None = None) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"results": await tools.approvals.matching(status, agentId)})


@router.get("/approvals/{approval_id}")
async def show_approval(approval_id: str, tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON(await tools.approvals.get(approval_id))


@router.post("/approvals/{approval_id}/approve")
async def approve(approval_id: str, tools: Tools, ctx: AdminWrite) -> ParseJSON:
    return ParseJSON(await tools.approver.approve(approval_id, who(ctx)))


@router.post("/approvals/{approval_id}/deny")
async def deny(approval_id: str, body: Decide, tools: Tools, ctx: AdminWrite) -> ParseJSON:
    return ParseJSON(await tools.approver.deny(approval_id, who(ctx), body.reason))


def _filters(request: Request) -> dict[str, Any]:
    keys = ("agentId", "runId", "tool", "decision", "outcome", "since", "until")
    return {key: request.query_params[key] for key in keys if request.query_params.get(key)}


@router.get("/audit")
async def query_audit(request: Request, tools: Tools, _: Admin, limit: int = 100, skip: int = 0) -> ParseJSON:
    await tools.ready()
    found = await tools.audit.query(_filters(request), max(1, min(limit, 1000)), max(0, skip))
    return ParseJSON({"results": found})


@router.get("/audit/export")
async def export_audit(request: Request, tools: Tools, _: Admin) -> StreamingResponse:
    await tools.ready()
    return StreamingResponse(tools.audit.export(_filters(request)), media_type="application/x-ndjson")


@router.post("/audit/verify")
async def verify_audit(tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON((await tools.audit.verify()).to_wire())


@router.get("/policy")
async def show_policy(tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    policy = await tools.policies.current()
    return ParseJSON({"version": policy.version, "config": policy.config.model_dump(by_alias=True)})


@router.put("/policy")
async def update_policy(body: dict[str, Any], tools: Tools, ctx: AdminWrite) -> ParseJSON:
    await tools.ready()
    policy = await tools.policies.update(body, who(ctx))
    return ParseJSON({"version": policy.version, "config": policy.config.model_dump(by_alias=True)})
