"""The admin API under ``/agent/v1/admin``: agents, tokens, grants, approvals, audit, policy.

The master key or a console admin (agent_tools/faces/admin_auth.py); the read-only master key and
viewer admins may look but not change. The web console and the CLI use the same services.
Every change is a security record naming the admin.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from agent_tools.faces import admin_actions as actions
from agent_tools.faces.admin_auth import Admin, AdminWrite
from agent_tools.faces.rest import PREFIX, Tools
from agent_tools.model.grant_names import grantable
from backend.api.responses import ParseJSON

router = APIRouter(prefix=PREFIX + "/admin", tags=["agent admin"])


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
async def create_agent(body: NewAgent, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent, token = await actions.create_agent(tools, caller, body.name, body.roles, body.grants, body.owner,
                                              body.tokenDays)
    return ParseJSON({"agent": agent.to_wire(), "token": token}, status_code=201)


@router.get("/agents")
async def list_agents(tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"results": [agent.to_wire() for agent in await tools.agents.all()]})


@router.get("/tools")
async def list_grantable(tools: Tools, _: Admin) -> ParseJSON:
    """Every name a grant may use: the wildcards and each registered tool (built-in and the app's own)."""
    await tools.ready()
    return ParseJSON(grantable(tools.registry))


@router.get("/agents/{agent_id}")
async def show_agent(agent_id: str, tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    raw = await tools.agents._raw(agent_id)
    return ParseJSON((await tools.agents.get(agent_id)).to_wire() | {"tokens": tools.agents.tokens_of(raw)})


@router.post("/agents/{agent_id}/suspend")
async def suspend_agent(agent_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await actions.set_status(tools, caller, agent_id, "suspended")
    return ParseJSON(agent.to_wire())


@router.post("/agents/{agent_id}/resume")
async def resume_agent(agent_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await actions.set_status(tools, caller, agent_id, "active")
    return ParseJSON(agent.to_wire())


@router.put("/agents/{agent_id}/grants")
async def set_grants(agent_id: str, body: Grants, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await actions.set_grants(tools, caller, agent_id, body.roles, body.grants)
    return ParseJSON(agent.to_wire())


@router.post("/agents/{agent_id}/tokens")
async def rotate_token(agent_id: str, body: NewToken, tools: Tools, caller: AdminWrite) -> ParseJSON:
    token = await actions.issue_token(tools, caller, agent_id, body.days, revoke_others=body.revokeOthers)
    return ParseJSON({"token": token}, status_code=201)


@router.delete("/agents/{agent_id}/tokens")
async def revoke_tokens(agent_id: str, tools: Tools, caller: AdminWrite, tokenId: str | None = None) -> ParseJSON:
    return ParseJSON(await actions.revoke_tokens(tools, caller, agent_id, tokenId))


@router.get("/approvals")
async def list_approvals(tools: Tools, _: Admin, status: str | None = None, agentId: str | None = None) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"results": await tools.approvals.matching(status, agentId)})


@router.get("/approvals/{approval_id}")
async def show_approval(approval_id: str, tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON(await tools.approvals.get(approval_id))


@router.post("/approvals/{approval_id}/approve")
async def approve(approval_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    return ParseJSON(await actions.approve(tools, caller, approval_id))


@router.post("/approvals/{approval_id}/deny")
async def deny(approval_id: str, body: Decide, tools: Tools, caller: AdminWrite) -> ParseJSON:
    return ParseJSON(await actions.deny(tools, caller, approval_id, body.reason))


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
async def update_policy(body: dict[str, Any], tools: Tools, caller: AdminWrite) -> ParseJSON:
    policy = await actions.update_policy(tools, caller, body)
    return ParseJSON({"version": policy.version, "config": policy.config.model_dump(by_alias=True)})
