"""Admission: everything a call passes before its tool runs, in order, each check one call.

address rate -> labels -> token (the agent) -> acted-for user -> input bounds -> tool and scope -> policy
and input -> run owner -> policy decision -> run intent -> run budgets -> (a write) the agent's confirmation.
A check that fails raises ``Blocked``; the gateway records and answers it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ValidationError

from agent_tools.model.blocked import Blocked
from agent_tools.model.bounds import edge_problem, label_problem
from agent_tools.model.registry import Tool
from agent_tools.pipeline import budgets
from agent_tools.pipeline.call import Call, GatewayParts, new_run_id
from agent_tools.pipeline.shaping import shaper_for
from agent_tools.stores.agents import Agent
from agent_tools.stores.oauth_tokens import scope_for
from agent_tools.stores.policy import Decision, decide, granted
from backend.services.shared.units import Unit

FAILED_AUTH_RATE = "30/minute"  # calls from one address failing authentication, before it is refused outright


async def admit(tools: GatewayParts, call: Call, unit: Unit | None) -> Decision:
    """Who, which tool, what input, the policy's decision (a read: in its unit; a write: before its unit).

    Admitted on this process's copy of the agent (the second attempt: on the fresh row), confirmed before the
    call's result counts: a read's in its record's transaction, a write's by a group confirmation answered
    before its record is appended.
    """
    await _address_allowed(tools, call.request.address)
    _labels(call)
    call.agent = await _agent(tools, call, unit)
    call.user = await tools.delegations.acting_user(call.request, call.agent)
    _bounded(call.request.input)
    call.tool = _tool(tools, call)
    call.policy = await tools.policies.current(unit)
    call.input = _validated(call.tool, call.request.input)
    await _run_owner(tools, call)
    decision = await _decision(tools, call)
    call.shaper = await shaper_for(tools, call.request.intent, call.agent.id, call.run_id, call.tool.name, unit)
    if stopped := await call.shaper.stopped(call.run_id):
        raise Blocked("intent.budget", stopped)
    await budgets.count(tools, call)
    if call.unconfirmed is not None and call.request.kind == "write":
        call.confirmation = tools.confirmations.ask(call.unconfirmed)
    return decision


def visible(tools: GatewayParts, agent: Agent, scopes: frozenset[str] | None, intent: Any) -> list[dict[str, Any]]:
    """The tools this agent may call, within an access token's scopes and a run's intent."""
    return [tool.describe() for tool in tools.registry if granted(agent, tool) and tool.roles <= agent.roles
            and (scopes is None or scope_for(tool.kind) in scopes) and (intent is None or tool.name in intent.tools)]


async def _address_allowed(tools: GatewayParts, address: str | None) -> None:
    """Per caller address, before any token is looked at: anonymous traffic is bounded before it costs a lookup."""
    if address is None:
        return
    if not await tools.limits.within(FAILED_AUTH_RATE, "auth-failed", address):
        raise Blocked("rate.address", "Too many failed authentications from this address; wait a minute.",
                      status=429)
    if not await tools.limits.hit(tools.services.settings.agent_address_rate, "address", address):
        raise Blocked("rate.address", "Too many calls from this address; slow down.", status=429)


def _labels(call: Call) -> None:
    """The run id and idempotency key, before either is stored (the refusal's record carries neither)."""
    if problem := label_problem(call.request.run_id, call.request.idempotency_key):
        call.request = dataclasses.replace(call.request, run_id=None, idempotency_key=None)
        call.run_id = new_run_id()
        raise Blocked("input.invalid", f"{problem}.", status=400)


async def _agent(tools: GatewayParts, call: Call, unit: Unit | None) -> Agent:
    """The agent behind the gateway token or verified access token; a failure counts against the address."""
    agents, cached, request = tools.agents, not call.fresh, call.request
    generation, token_id = request.source
    check = await (agents.check_id(request.agent_id, unit, cached=cached, generation=generation, token_id=token_id)
                   if request.agent_id else agents.check(request.token, unit, cached=cached))
    call.agent, call.unconfirmed = check.agent, check.unconfirmed
    if check.problem:
        if request.address:
            await tools.limits.hit(FAILED_AUTH_RATE, "auth-failed", request.address)
        raise Blocked(check.problem, "Invalid or unknown agent token." if check.agent is None
                      else f"This token is {check.problem.split('.')[1]}.")
    assert check.agent is not None
    return check.agent


def _bounded(raw: Any) -> None:
    """Before anything walks the input (the record stores it bounded)."""
    if problem := edge_problem(raw):
        raise Blocked("input.too_complex", f"The input is {problem}.", status=400, code=142)


def _tool(tools: GatewayParts, call: Call) -> Tool:
    tool = tools.registry.get(call.request.tool)
    if tool is None or tool.kind != call.request.kind:
        raise Blocked("tool.unknown", f"No {call.request.kind} tool named {call.request.tool!r}.")
    call.tool = tool  # the refusal below is recorded with its tool
    if call.request.scopes is not None and scope_for(tool.kind) not in call.request.scopes:
        raise Blocked("scope.insufficient", f"This token lacks the {scope_for(tool.kind)} scope.", status=403)
    return tool


def _validated(tool: Tool, raw: Any) -> BaseModel:
    try:
        if not isinstance(raw, dict):
            raise Blocked("input.invalid", "The input must be a JSON object.")
        return tool.input_model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "input"
        raise Blocked("input.invalid", f"Invalid input {where}: {first.get('msg', 'malformed')}.") from None


async def _run_owner(tools: GatewayParts, call: Call) -> None:
    """A run id belongs to its first caller; another's refusal is recorded in a run of its own, not the victim's."""
    if call.request.run_id is None:
        return
    assert call.agent is not None
    try:
        await tools.run_owners.claim(call.run_id, call.agent.id, call.user.user_id if call.user else None)
    except Blocked:
        call.run_id = new_run_id()
        raise


async def _decision(tools: GatewayParts, call: Call) -> Decision:
    assert call.agent is not None and call.tool is not None and call.policy is not None
    decision = await decide(call.agent, call.tool, call.policy, tools.limits, intent=call.request.intent)
    if decision.kind == "deny":
        raise Blocked(decision.rule, decision.reason)
    return decision
