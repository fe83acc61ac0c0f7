"""The call's one audit record: what each outcome writes, and where (with the change, or by group commit).

A write's record is appended in the tool's own unit (they commit together); a call that changed nothing is
recorded by group commit. Either confirms first that the agent the call was admitted on is still as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from agent_tools.model.blocked import Blocked
from agent_tools.model.bounds import SMALL, audit_form
from agent_tools.model.tool_context import ToolContext
from agent_tools.pipeline.call import Call, Failure, GatewayParts
from agent_tools.pipeline.shaping import result_hash
from agent_tools.stores.approvals import Binding
from agent_tools.stores.audit import AgentChanged, RunAgain, recordable
from agent_tools.stores.policy import Decision
from backend.services.shared.units import Unit

log = logging.getLogger("ballast.agent_tools")
Record = dict[str, Any]


async def confirm(tools: GatewayParts, call: Call) -> None:
    """A write admitted on a copy of its agent goes on only if the committed row still agrees."""
    if call.confirmation is None:
        return
    holds = await tools.confirmations.answer(call.confirmation)
    call.confirmation = None
    if not holds:
        raise AgentChanged()
    call.unconfirmed = None  # confirmed: its records need no further check


async def record(tools: GatewayParts, call: Call, entry: Record) -> Record:
    """The record of a call that changed nothing (group commit); confirms the agent it was admitted on."""
    return await tools.audit.record(entry, confirm=call.unconfirmed)


async def append(tools: GatewayParts, unit: Unit, call: Call, decision: Decision, context: ToolContext,
                 result: Record) -> Record:
    """A write's record, in the unit of its change, once the agent is confirmed."""
    await confirm(tools, call)
    return await tools.audit.append(unit, written(call, decision, context, result))


async def refused(tools: GatewayParts, call: Call, blocked: Blocked) -> Record:
    entry = call.entry(decision=blocked.decision, rule=blocked.rule, outcome="blocked", error=blocked.message)
    if call.agent is None or blocked.rule.startswith(("token.", "delegation.")):
        entry["input"] = audit_form(call.request.input, SMALL)  # unauthenticated: store next to nothing
    return await record(tools, call, entry)


async def read(tools: GatewayParts, call: Call, decision: Decision, context: ToolContext, result: Record) -> Record:
    return await record(tools, call, call.entry(decision=decision.kind, rule=decision.rule, context=context.refs,
                                                outcome="ok", resultHash=result_hash(result)))


async def failed(tools: GatewayParts, call: Call, decision: Decision, failure: Failure) -> Record | None:
    """A tool that raised; None if the audit refused the record (then nothing may count as done)."""
    try:
        return await record(tools, call, call.entry(decision=decision.kind, rule=decision.rule, outcome="error",
                                                    error=failure.message, code=failure.code))
    except RunAgain:
        raise
    except Exception:  # no audit, no action: the write (if any) already rolled back with its record
        log.exception("audit append failed for tool %s", call.request.tool)
        return None


async def replayed(tools: GatewayParts, call: Call, first: Record) -> Record:
    return await record(tools, call, call.entry(decision="allow", rule="idempotent.replay", outcome="replayed",
                                                replayOf=first["seq"]))


async def repeated(tools: GatewayParts, call: Call, approval: Record) -> Record:
    return await record(tools, call, call.entry(decision="needs_approval", rule="idempotent.approval",
                                                approvalId=approval["objectId"], outcome="replayed"))


def ensure_recordable(call: Call, decision: Decision) -> None:
    """A tool whose writes are its own runs only if its record can be written after."""
    if not recordable(call.entry(decision=decision.kind, rule=decision.rule, outcome="ok")):
        raise Blocked("audit.unrecordable", "This call's audit record could not be written; it did not run.",
                      status=400, code=142)


async def pending(tools: GatewayParts, call: Call, decision: Decision, preview: Record,
                  binding: Binding) -> tuple[Record, Record]:
    """The pending approval and its record, in one unit: (approval, record)."""
    assert call.tool is not None and call.agent is not None and call.policy is not None
    async with tools.services.db.unit() as unit:
        approval = await tools.approvals.create(unit, {
            "agentId": call.agent.id, "runId": call.run_id, "userId": call.user.user_id if call.user else None,
            "tool": call.tool.name, "toolVersion": call.tool.version, "input": call.normalised(),
            "preview": preview, "binding": binding.digest, "policyVersion": call.policy.version,
            "reason": decision.reason, "rule": decision.rule, "idempotencyKey": call.request.idempotency_key,
        }, call.policy.config.approval_ttl)
        entry = call.entry(decision=decision.kind, rule=decision.rule, approvalId=approval["objectId"],
                           outcome="pending")
        return approval, await tools.audit.append(unit, entry)


def written(call: Call, decision: Decision, context: ToolContext, result: Record) -> Record:
    return call.entry(decision=decision.kind, rule=decision.rule, context=context.refs,
                      changed=[change.ref() for change in context.changes], effects=context.effects or None,
                      outcome="ok", result=result if call.request.idempotency_key else None,
                      idempotencyKey=call.request.idempotency_key)
