"""A run's budgets as a call spends them: a place among its writes, its calls, the objects it was shown.

Counted in the run budget store (Redis when configured), so every instance counts together.
"""

from __future__ import annotations

from typing import Any

from agent_tools.model.blocked import Blocked
from agent_tools.pipeline.call import Call
from agent_tools.stores.parts import Parts
from agent_tools.stores.run_budget import Caps, refusal


def run_key(call: Call) -> str:
    """The run's budgets, keyed by its owner too: two agents never share counters."""
    return f"{call.agent.id if call.agent else ''}/{call.run_id}"


async def count(tools: Parts, call: Call) -> None:
    """Check and count the run's budgets in one step: never past one. A write holds a place until it commits."""
    assert call.policy is not None and call.tool is not None
    config, write = call.policy.config, call.tool.kind == "write"
    caps = Caps(config.run_calls, config.run_writes if write else None, None if write else config.run_objects_read)
    if spent := await tools.budgets.admit(run_key(call), caps):
        if spent == "writes" and await _committed_before(tools, call):
            return  # a retry of a write that committed: answered from its record, taking no place
        raise refusal(spent, caps)
    if write:
        call.reserved = run_key(call)


async def release(tools: Parts, call: Call) -> None:
    """A write that did not commit frees its place."""
    if call.reserved is not None and not call.committed:
        await tools.budgets.release(call.reserved)


async def charge_shown(tools: Parts, call: Call, refs: list[dict[str, Any]]) -> None:
    """A read's objects, counted once per run, against the run's budget and its intent's."""
    shown, _ = await tools.budgets.see(run_key(call), [(str(ref["className"]), str(ref["objectId"])) for ref in refs])
    if call.policy is not None and shown > call.policy.config.run_objects_read:
        raise Blocked("budget.objects", "This run has been shown as many objects as its budget allows.")
    if call.shaper is not None and (stopped := await call.shaper.account(call.run_id, refs)):
        raise Blocked("intent.budget", stopped)


async def _committed_before(tools: Parts, call: Call) -> bool:
    key = call.request.idempotency_key
    return bool(key and call.agent and await tools.audit.find_key(call.agent.id, key))
