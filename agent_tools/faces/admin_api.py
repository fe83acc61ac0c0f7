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

from agent_tools.faces.admin_auth import Admin, AdminWrite, note, who
from agent_tools.faces.rest import PREFIX, Tools
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
    await tools.ready()
    agent, token = await tools.agents.create(body.name, body.roles, body.grants, body.owner, body.tokenDays)
    await note(tools, caller, "agent.create", agent.id, {"roles": sorted(agent.roles), "grants": sorted(agent.grants)})
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
async def suspend_agent(agent_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await tools.agents.set_status(agent_id, "suspended")
    await note(tools, caller, "agent.suspend", agent_id)
    return ParseJSON(agent.to_wire())


@router.post("/agents/{agent_id}/resume")
async def resume_agent(agent_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await tools.agents.set_status(agent_id, "active")
    await note(tools, caller, "agent.resume", agent_id)
    return ParseJSON(agent.to_wire())


@router.put("/agents/{agent_id}/grants")
async def set_grants(agent_id: str, body: Grants, tools: Tools, caller: AdminWrite) -> ParseJSON:
    agent = await tools.agents.set_grants(agent_id, body.roles, body.grants)
    await note(tools, caller, "agent.grants", agent_id, {"roles": sorted(agent.roles), "grants": sorted(agent.grants)})
    return ParseJSON(agent.to_wire())


@router.post("/agents/{agent_id}/tokens")
async def rotate_token(agent_id: str, body: NewToken, tools: Tools, caller: AdminWrite) -> ParseJSON:
    token = await tools.agents.issue_token(agent_id, body.days, revoke_others=body.revokeOthers)
    await note(tools, caller, "agent.token", agent_id, {"revokeOthers": body.revokeOthers})
    return ParseJSON({"token": token}, status_code=201)


@router.delete("/agents/{agent_id}/tokens")
async def revoke_tokens(agent_id: str, tools: Tools, caller: AdminWrite, tokenId: str | None = None) -> ParseJSON:
    revoked = await tools.agents.revoke_token(agent_id, tokenId)
    await note(tools, caller, "agent.revoke", agent_id, {"tokenId": tokenId, "revoked": revoked})
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
async def approve(approval_id: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    decided = await tools.approver.approve(approval_id, who(caller))
    await note(tools, caller, "approval.approve", approval_id)
    return ParseJSON(decided)


@router.post("/approvals/{approval_id}/deny")
async def deny(approval_id: str, body: Decide, tools: Tools, caller: AdminWrite) -> ParseJSON:
    decided = await tools.approver.deny(approval_id, who(caller), body.reason)
    await note(tools, caller, "approval.deny", approval_id)
    return ParseJSON(decided)


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
    await tools.ready()
    policy = await tools.policies.update(body, who(caller))
    await note(tools, caller, "policy.update", str(policy.version))
    return ParseJSON({"version": policy.version, "config": policy.config.model_dump(by_alias=True)})
