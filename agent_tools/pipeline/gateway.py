"""The gateway: one code path for every tool call, whichever face (REST, MCP) it came through.

Each call reads top to bottom as its steps, each step one call into a module of its own:

* admit.py    token, bounds, rate, grants, run budgets, the policy's decision (raises ``Blocked``)
* execute.py  the tool: live in the call's unit, or a preview in a unit that rolls back
* record.py   exactly one audit record: with the change in its unit, else by group commit
* answer.py   the ``CallResult`` a face translates

The steps share only ``call.py`` (and ``budgets.py``), never each other; the order lives here.
"""

from __future__ import annotations

from typing import Any

from agent_tools.model.blocked import Blocked
from agent_tools.model.tool_context import NeedsApproval, OverCap
from agent_tools.model.tool_context import dump_output as _dump
from agent_tools.pipeline import answer, budgets, execute, record
from agent_tools.pipeline.admit import admit, visible
from agent_tools.pipeline.call import Call, CallRequest, CallResult, GatewayParts
from agent_tools.pipeline.retries import check_same
from agent_tools.pipeline.telemetry import describe, tool_span
from agent_tools.stores.approvals import binding_for, preview_of
from agent_tools.stores.audit import ATTEMPTS, RunAgain
from agent_tools.stores.policy import Decision, over_cap
from backend.errors import DuplicateValue, WriteConflict
from backend.metrics import count_agent_call


class Gateway:
    """One call: ``call`` -> ``_attempt`` (once more on RunAgain) -> ``_read`` or ``_write``, each its steps.

    A refusal (``Blocked``) at any step is one record too (``_run_and_record``); a tool that raised is
    recorded as a failure (``_failed``); a write that leaves its unit another way goes on in ``_settle``.
    """

    def __init__(self, tools: GatewayParts) -> None:
        self.tools = tools

    async def call(self, request: CallRequest) -> CallResult:
        """Run one tool call and write its one audit record."""
        await self.tools.ready()
        call = Call.start(request)
        with tool_span(request.tool, request.kind) as span:
            result = await self._call(call)
            describe(span, result.status, result.record)
        known = self.tools.registry.get(request.tool) is not None  # a label only for tools that exist
        count_agent_call(request.tool if known else "unknown", result.record.get("decision"),
                         result.record.get("rule"))
        return result

    async def list_tools(self, token: str | None, agent_id: str | None = None, scopes: frozenset[str] | None = None,
                         intent: Any = None, source: tuple[int | None, str | None] = (None, None)) -> CallResult:
        """The tools this token's agent may call (within an access token's scopes and a run's intent)."""
        await self.tools.ready()
        check = await (self.tools.agents.check_id(agent_id, generation=source[0], token_id=source[1]) if agent_id
                       else self.tools.agents.check(token))
        if check.problem or check.agent is None:
            return CallResult(401, {"code": 209, "error": "Invalid or unknown agent token.", "rule": check.problem})
        shown = visible(self.tools, check.agent, scopes, intent)
        return CallResult(200, {"agent": check.agent.to_wire(), "tools": shown})

    async def _call(self, call: Call) -> CallResult:
        """Attempts of the call: again (on the fresh agent row) after a unit rolled back for a reason another
        run resolves: admitted on a copy of the agent that changed since, a chain moved, or the database
        broke a deadlock. A write's last attempt records its conflict as a failure (``_settle``)."""
        while True:
            try:
                return await self._attempt(call)
            except (RunAgain, WriteConflict) as again:
                if call.attempt >= ATTEMPTS:
                    if isinstance(again, WriteConflict):  # a read's record could not commit: nothing was shown
                        return answer.error(call, 500, int(again.code), again.message, "audit.conflict", {})
                    raise
            call = call.again()

    async def _attempt(self, call: Call) -> CallResult:
        try:
            return await self._run_and_record(call)
        finally:
            await budgets.release(self.tools, call)  # no write happened: its place is free again

    async def _run_and_record(self, call: Call) -> CallResult:
        try:
            return await (self._read(call) if call.request.kind == "read" else self._write(call))
        except Blocked as blocked:
            audited = await record.refused(self.tools, call, blocked)
            return answer.error(call, blocked.status, blocked.code, blocked.message, blocked.rule, audited)

    async def _read(self, call: Call) -> CallResult:
        """Admission and the tool share one read-only transaction; the record follows (group commit)."""
        decision: Decision | None = None
        try:
            async with self.tools.services.db.unit(read_only=True) as unit:
                decision = await admit(self.tools, call, unit)
                context, output = await execute.run(self.tools, call, unit)
        except Exception as error:  # every failure of the tool is audited, then answered
            if decision is None or isinstance(error, Blocked):
                raise
            return await self._failed(call, decision, error)
        await budgets.charge_shown(self.tools, call, context.refs)  # the objects it was shown, against the budgets
        result = _dump(output)
        return answer.ok(call, result, await record.read(self.tools, call, decision, context, result))

    async def _write(self, call: Call) -> CallResult:
        """The tool and its audit record share one unit: they commit or roll back together.

        Admission comes first, outside that unit: on SQLite every write unit holds the one writer, and the
        writes queued behind it need not wait for this call's token, policy and rate-limit checks too.
        """
        decision = await admit(self.tools, call, None)
        try:
            async with self.tools.services.db.unit(resumable=False) as unit:
                await execute.way(self.tools, call, decision, unit)  # else a Detour: replay, propose, outside
                context, result = await execute.run_dumped(self.tools, call, unit)
                audited = await record.append(self.tools, unit, call, decision, context, result)
        except Exception as error:  # the unit rolled back
            return await self._settle(call, decision, error)
        call.committed = True
        return answer.ok(call, result, audited)

    async def _settle(self, call: Call, decision: Decision, error: Exception) -> CallResult:
        """A write that left its unit another way: a detour, an approval it turned out to need, a race, a failure."""
        if isinstance(error, RunAgain | Blocked) or (isinstance(error, WriteConflict) and call.attempt < ATTEMPTS):
            raise error  # a conflict rolled the write and its record back together: it runs again (``_call``)
        if isinstance(error, execute.Detour):
            await record.confirm(self.tools, call)  # before a replay answers, a proposal is stored or a function runs
            if error.action == "replay":
                return await self._replay(call, error.payload)
            return await (self._propose(call, decision) if error.action == "propose" else self._outside(call, decision))
        if isinstance(error, OverCap | NeedsApproval):
            await record.confirm(self.tools, call)
            return await self._propose(call, _approval_needed(call, error))
        if isinstance(error, DuplicateValue):  # a racing retry with the same key committed first: answer as it did
            key, agent = call.request.idempotency_key, call.agent
            first = await self.tools.audit.find_key(agent.id, key) if key and agent else None
            if first is not None:
                return await self._replay(call, first)
        return await self._failed(call, decision, error)

    async def _outside(self, call: Call, decision: Decision) -> CallResult:
        """A tool whose writes are its own transactions (cloud functions): a read-only unit, the record after."""
        record.ensure_recordable(call, decision)
        try:
            async with self.tools.services.db.unit(read_only=True) as unit:
                context, result = await execute.run_dumped(self.tools, call, unit)
        except NeedsApproval as needed:  # as the tool asked (an OverCap too: it counts no changes of its own)
            return await self._propose(call, _asked(call, needed))
        except Exception as error:  # noqa: BLE001
            return await self._failed(call, decision, error)
        audited = await record.record(self.tools, call, record.written(call, decision, context, result))
        call.committed = True
        return answer.ok(call, result, audited)

    async def _propose(self, call: Call, decision: Decision) -> CallResult:
        """Dry-run the write in a unit that rolls back; store the preview as a pending approval."""
        assert call.tool is not None and call.agent is not None and call.policy is not None
        key = call.request.idempotency_key
        if key and (earlier := await self.tools.approvals.with_key(call.agent.id, key)):
            return await self._repeat(call, key, earlier)
        try:
            context = await execute.preview(self.tools, call)
        except Exception as error:  # noqa: BLE001
            return await self._failed(call, decision, error)
        if decision.rule == "blast_radius":  # the live run stopped at the cap: now the real count is known
            decision = over_cap(call.tool, len(context.changes), call.policy)
        preview = preview_of(context.changes, context.side_effect_counts(), context.effects)
        if decision.kind == "deny":
            raise Blocked(decision.rule, decision.reason)
        binding = binding_for(call.tool.name, call.tool.version, call.normalised(), context.changes, context.effects,
                              call.policy.version)
        try:
            approval, audited = await record.pending(self.tools, call, decision, preview, binding)
        except DuplicateValue:  # a racing retry with the same key stored its approval first: that one it is
            earlier = await self.tools.approvals.with_key(call.agent.id, key) if key else None
            if earlier is None:
                raise
            return await self._repeat(call, str(key), earlier)
        return answer.pending(call, decision.reason, decision.rule, approval, preview, audited)

    async def _repeat(self, call: Call, key: str, approval: dict[str, Any]) -> CallResult:
        """A retry of a write that asked for approval: that approval again (its result once executed)."""
        assert call.tool is not None
        check_same(key, call.tool.name, call.normalised(), approval.get("tool"), approval.get("input"))
        return answer.repeated(call, approval, await record.repeated(self.tools, call, approval))

    async def _replay(self, call: Call, first: dict[str, Any]) -> CallResult:
        return answer.ok(call, first.get("result") or {}, await record.replayed(self.tools, call, first), replayed=True)

    async def _failed(self, call: Call, decision: Decision, error: Exception) -> CallResult:
        """A tool that raised: nothing it did was kept (its unit rolled back); the failure is audited."""
        failure = execute.failure(call, error)
        return answer.failed(call, failure, await record.failed(self.tools, call, decision, failure))


def _approval_needed(call: Call, error: OverCap | NeedsApproval) -> Decision:
    """The decision a live run turned into: over its cap (the real count comes from the preview), or a rule."""
    assert call.tool is not None and call.policy is not None
    if isinstance(error, OverCap):
        return over_cap(call.tool, call.tool.cap + 1, call.policy)
    return _asked(call, error)


def _asked(call: Call, needed: NeedsApproval) -> Decision:
    """Approval as the tool asked for it, under the rule it named."""
    assert call.policy is not None
    return Decision("needs_approval", needed.rule, needed.reason, call.policy.version)
