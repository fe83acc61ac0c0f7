"""Every admin action once: the change and its security record naming the admin, for every face.

The CLI, the admin API and the console each call these functions, so an action reads the same in the
security trail whichever face an admin used, and no face can forget the record (or a side effect, such as
revoking an agent's OAuth grants with its tokens). ``caller`` says who acts: the master key, a console
admin, or the operator at the command line (``CLI``).
"""

from __future__ import annotations

from typing import Any

from agent_tools.faces.admin_auth import AdminCaller, note, who
from agent_tools.stores.agents import Agent
from agent_tools.stores.intents import FieldPolicy, IntentSpec
from agent_tools.stores.policy import Policy
from agent_tools.wiring import AgentTools

CLI = AdminCaller("cli", True, "127.0.0.1", via="cli")  # the operator: whoever may open the database


async def create_agent(tools: AgentTools, caller: AdminCaller, name: str, roles: list[str], grants: list[str],
                       owner: str | None = None, days: int | None = None) -> tuple[Agent, str]:
    """A new agent and its first token (shown once, never recorded)."""
    await tools.ready()
    agent, token = await tools.agents.create(name, roles, grants, owner, days)
    await note(tools, caller, "agent.create", agent.id, {"name": agent.name, "roles": sorted(agent.roles),
                                                          "grants": sorted(agent.grants)})
    return agent, token


async def set_status(tools: AgentTools, caller: AdminCaller, agent_id: str, status: str) -> Agent:
    """Suspend (the kill switch: every credential it holds dies) or resume an agent."""
    agent = await tools.agents.set_status(agent_id, status)
    await note(tools, caller, "agent.resume" if status == "active" else "agent.suspend", agent_id)
    return agent


async def set_grants(tools: AgentTools, caller: AdminCaller, agent_id: str, roles: list[str] | None,
                     grants: list[str] | None) -> Agent:
    agent = await tools.agents.set_grants(agent_id, roles, grants)
    await note(tools, caller, "agent.grants", agent_id, {"roles": sorted(agent.roles), "grants": sorted(agent.grants)})
    return agent


async def issue_token(tools: AgentTools, caller: AdminCaller, agent_id: str, days: int | None = None, *,
                      revoke_others: bool = False) -> str:
    """A new token (rotation when ``revoke_others``), shown once."""
    token = await tools.agents.issue_token(agent_id, days, revoke_others=revoke_others)
    await note(tools, caller, "agent.token", agent_id, {"revokeOthers": revoke_others})
    return token


async def revoke_tokens(tools: AgentTools, caller: AdminCaller, agent_id: str,
                        token_id: str | None = None) -> dict[str, int]:
    """One token, or all; revoking all also ends the OAuth codes and refresh tokens granted to the agent."""
    revoked = await tools.agents.revoke_token(agent_id, token_id)
    await note(tools, caller, "agent.revoke", agent_id, {"tokenId": token_id, "revoked": revoked})
    if token_id is None:
        return {"revoked": revoked, "oauthGrants": await tools.grants.forget_agent(agent_id)}
    return {"revoked": revoked}


async def update_policy(tools: AgentTools, caller: AdminCaller, changes: dict[str, Any]) -> Policy:
    """A new policy version (rates, budgets, the read-only switch, ...) that names its author."""
    await tools.ready()
    policy = await tools.policies.update(changes, who(caller))
    await note(tools, caller, "policy.update", str(policy.version), {"changed": sorted(changes)})
    return policy


async def approve(tools: AgentTools, caller: AdminCaller, approval_id: str) -> dict[str, Any]:
    """Run exactly the previewed change, once (refused when stale)."""
    decided = await tools.approver.approve(approval_id, who(caller))
    await note(tools, caller, "approval.approve", approval_id)
    return decided


async def deny(tools: AgentTools, caller: AdminCaller, approval_id: str, reason: str = "") -> dict[str, Any]:
    decided = await tools.approver.deny(approval_id, who(caller), reason)
    await note(tools, caller, "approval.deny", approval_id, {"reason": reason} if reason else None)
    return decided


async def define_intent(tools: AgentTools, caller: AdminCaller, raw: dict[str, Any]) -> IntentSpec:
    await tools.ready()
    spec = await tools.intents.define(raw, who(caller))
    await note(tools, caller, "intent.define", spec.name)
    return spec


async def remove_intent(tools: AgentTools, caller: AdminCaller, name: str) -> None:
    """Remove an intent: run tokens minted for it stop working."""
    await tools.ready()
    await tools.intents.remove(name)
    await note(tools, caller, "intent.remove", name)


async def set_fields(tools: AgentTools, caller: AdminCaller, class_name: str, raw: dict[str, Any]) -> FieldPolicy:
    """A class's field policy (which fields agents never see, which they may write)."""
    await tools.ready()
    policy = await tools.intents.set_fields(class_name, raw)
    await note(tools, caller, "fields.set", class_name, policy.model_dump())
    return policy
