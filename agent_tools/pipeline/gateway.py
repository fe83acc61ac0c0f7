"""The gateway: one code path for every tool call, whichever face (REST, MCP) it came through.

token -> agent -> tool -> input -> idempotency -> policy -> run (read-only
unit for reads; for writes a live unit, or a rolled-back preview that becomes
an approval) -> exactly one audit record. Faces only translate ``CallRequest``
and ``CallResult``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from agent_tools.model.blocked import Blocked
from agent_tools.model.bounds import SMALL, audit_form, edge_problem, label_problem
from agent_tools.model.registry import Tool
from agent_tools.model.tool_context import Mode, NeedsApproval, OverCap, Rollback, ToolContext
from agent_tools.model.tool_context import dump_output as _dump
from agent_tools.pipeline.retries import check_same
from agent_tools.pipeline.shaping import Shaper, result_hash, shaper_for
from agent_tools.pipeline.telemetry import describe, tool_span
from agent_tools.stores.agents import Agent
from agent_tools.stores.approvals import binding_for, preview_of
from agent_tools.stores.audit import ATTEMPTS, AgentChanged, RunAgain, recordable
from agent_tools.stores.oauth_tokens import scope_for
from agent_tools.stores.parts import Parts
from agent_tools.stores.policy import Decision, Policy, decide, granted, over_cap
from agent_tools.stores.run_budget import Caps, refusal
from backend.context import Principal
from backend.errors import DuplicateValue, ParseError, WriteConflict, status_for
from backend.metrics import count_agent_call
from backend.services.shared.units import Unit

log = logging.getLogger("ballast.agent_tools")
# per caller address, before any token is looked at: anonymous traffic is bounded before it costs a lookup
ADDRESS_RATE = "1200/minute"
FAILED_AUTH_RATE = "30/minute"  # calls from one address failing authentication, before it is refused outright


@dataclass(frozen=True)
class CallRequest:
    token: str | None
    tool: str
    kind: str  # the router it came in on: read | write
    input: Any
    run_id: str | None = None
    idempotency_key: str | None = None
    user_token: str | None = field(default=None, repr=False)  # the acted-for user's session (only if allowed)
    delegation: str | None = field(default=None, repr=False)  # X-Ballast-Delegation: the user's grant to this agent
    agent_id: str | None = None  # already authenticated by a verified OAuth access token (no gateway token)
    scopes: frozenset[str] | None = None  # that access token's scopes; None: a gateway token, every scope
    intent: Any = None  # a run token's intent (agent_tools.stores.intents.RunIntent): narrows every call of the run
    address: str | None = None  # the caller's IP: rate limited before the token is checked
    source: tuple[int | None, str | None] = (None, None)  # an access/run token's (agent generation, gateway token)


@dataclass
class CallResult:
    status: int
    body: dict[str, Any]
    record: dict[str, Any] = field(default_factory=dict)


class _Detour(Exception):
    """Leaves the write unit (rolling it back) to go another way: replay, propose, or run outside it."""

    def __init__(self, action: str, payload: Any = None) -> None:
        super().__init__(action)
        self.action, self.payload = action, payload


@dataclass
class Call:
    """One call in flight: what is known so far, and what the audit will say."""

    request: CallRequest
    run_id: str
    started: float
    agent: Agent | None = None
    tool: Tool | None = None
    policy: Policy | None = None
    input: BaseModel | None = None
    user: Principal | None = None
    shaper: Shaper | None = None
    fresh: bool = False  # read the agent from the database even for a read (a later attempt)
    attempt: int = 1
    unconfirmed: tuple[str, bytes] | None = None  # the agent copy the call was admitted on, to confirm
    confirmation: asyncio.Future[bool] | None = None  # a write's group confirmation of that copy
    reserved: str | None = None  # the run whose write budget this call holds a place in (until it commits)
    committed: bool = False

    def entry(self, **more: Any) -> dict[str, Any]:
        base = {"agentId": self.agent.id if self.agent else None, "runId": self.run_id,
                "userId": self.user.user_id if self.user else None, "tool": self.request.tool,
                "kind": self.request.kind,
                "toolVersion": self.tool.version if self.tool else None,
                "policyVersion": self.policy.version if self.policy else None,
                "input": self.input.model_dump(mode="json") if self.input else self.request.input,
                "retryKey": self.request.idempotency_key,  # only a committed write claims the key itself
                "durationMs": round((time.perf_counter() - self.started) * 1000, 3)}
        if self.request.intent is not None:
            base["intent"] = {"name": self.request.intent.name, "params": self.request.intent.params}
        return base | more


class ActingFor(Protocol):
    """Delegations as the gateway asks them (agent_tools.pipeline.delegations.DelegationStore)."""

    async def acting_user(self, request: CallRequest, agent: Agent) -> Principal | None: ...


class GatewayParts(Parts, Protocol):
    """What the gateway uses of ``agent_tools.wiring.AgentTools``."""

    delegations: ActingFor


class Gateway:
    """One call, top to bottom: ``call`` -> ``_attempt`` (once more on RunAgain) -> ``_read`` or ``_write``.

    A write: ``_admit`` (token, agent, tool, input, policy; before the unit) -> in one unit: an earlier
    answer under the idempotency key (``_replay``), a needed approval (``_propose``), a tool whose writes
    are its own (``_outside``), else the handler on a live ToolContext -> ``_confirm`` the agent row ->
    ``audit.append`` in the same unit -> ``_ok``. A refusal is one record too (``_run_and_record``, ``_failed``).
    """

    def __init__(self, tools: GatewayParts) -> None:
        self.tools = tools

    async def call(self, request: CallRequest) -> CallResult:
        """Run one tool call and write its one audit record."""
        await self.tools.ready()
        call = Call(request, request.run_id or "run_" + secrets.token_hex(8), time.perf_counter())
        with tool_span(request.tool, request.kind) as span:
            result = await self._call(call)
            describe(span, result.status, result.record)
        known = self.tools.registry.get(request.tool) is not None  # a label only for tools that exist
        count_agent_call(request.tool if known else "unknown", result.record.get("decision"),
                         result.record.get("rule"))
        return result

    async def _call(self, call: Call) -> CallResult:
        """Attempts of the call: again (on the fresh agent row) after a unit rolled back for a reason another
        run resolves: admitted on a copy of the agent that changed since, a chain moved, or the database
        broke a deadlock. A write's last attempt records its conflict as a failure (``_write``)."""
        while True:
            try:
                return await self._attempt(call)
            except (RunAgain, WriteConflict) as again:
                if call.attempt >= ATTEMPTS:
                    if isinstance(again, WriteConflict):  # a read's record could not commit: nothing was shown
                        return _error(call, 500, int(again.code), again.message, "audit.conflict", {})
                    raise
            call = Call(call.request, call.run_id, call.started, fresh=True, attempt=call.attempt + 1)

    async def _attempt(self, call: Call) -> CallResult:
        try:
            return await self._run_and_record(call)
        finally:
            if call.reserved is not None and not call.committed:  # no write happened: its place is free again
                await self.tools.budgets.release(call.reserved)

    async def _run_and_record(self, call: Call) -> CallResult:
        try:
            return await (self._read(call) if call.request.kind == "read" else self._write(call))
        except Blocked as blocked:
            entry = call.entry(decision=blocked.decision, rule=blocked.rule, outcome="blocked", error=blocked.message)
            if call.agent is None or blocked.rule.startswith(("token.", "delegation.")):
                entry["input"] = audit_form(call.request.input, SMALL)  # unauthenticated: store next to nothing
            record = await self._record(call, entry)
            return _error(call, blocked.status, blocked.code, blocked.message, blocked.rule, record)

    async def _confirm(self, call: Call) -> None:
        """A write admitted on a copy of its agent goes on only if the committed row still agrees."""
        if call.confirmation is None:
            return
        holds = await self.tools.confirmations.answer(call.confirmation)
        call.confirmation = None
        if not holds:
            raise AgentChanged()
        call.unconfirmed = None  # confirmed: its records need no further check

    async def _record(self, call: Call, entry: dict[str, Any]) -> dict[str, Any]:
        """The record of a call that changed nothing (group commit); confirms the agent it was admitted on."""
        return await self.tools.audit.record(entry, confirm=call.unconfirmed)

    async def list_tools(self, token: str | None, agent_id: str | None = None, scopes: frozenset[str] | None = None,
                         intent: Any = None, source: tuple[int | None, str | None] = (None, None)) -> CallResult:
        """The tools this token's agent may call (within an access token's scopes and a run's intent)."""
        await self.tools.ready()
        check = await (self.tools.agents.check_id(agent_id, generation=source[0], token_id=source[1]) if agent_id
                       else self.tools.agents.check(token))
        if check.problem or check.agent is None:
            return CallResult(401, {"code": 209, "error": "Invalid or unknown agent token.", "rule": check.problem})
        agent = check.agent
        shown = [tool.describe() for tool in self.tools.registry if granted(agent, tool) and tool.roles <= agent.roles
                 and (scopes is None or scope_for(tool.kind) in scopes)
                 and (intent is None or tool.name in intent.tools)]
        return CallResult(200, {"agent": agent.to_wire(), "tools": shown})

    async def _admit(self, call: Call, unit: Unit | None) -> Decision:
        """Everything before the tool runs: who, which tool, what input, the policy (a read: in its unit)."""
        # admitted on this process's copy of the agent (the second attempt: on the fresh row), confirmed before
        # the call's result counts: a read's in its record's transaction, an admitted write's by a group
        # confirmation answered before its record is appended (``_confirm``), one query for many writes
        await self._address_allowed(call.request.address)
        if problem := label_problem(call.request.run_id, call.request.idempotency_key):  # before it is stored
            call.request = dataclasses.replace(call.request, run_id=None, idempotency_key=None)
            call.run_id = "run_" + secrets.token_hex(8)
            raise Blocked("input.invalid", f"{problem}.", status=400)
        agents, cached = self.tools.agents, not call.fresh
        generation, token_id = call.request.source
        check = await (agents.check_id(call.request.agent_id, unit, cached=cached, generation=generation,
                                       token_id=token_id) if call.request.agent_id
                       else agents.check(call.request.token, unit, cached=cached))
        call.agent, call.unconfirmed = check.agent, check.unconfirmed
        if check.problem:
            if call.request.address:
                await self.tools.limits.hit(FAILED_AUTH_RATE, "auth-failed", call.request.address)
            raise Blocked(check.problem, "Invalid or unknown agent token." if check.agent is None
                          else f"This token is {check.problem.split('.')[1]}.")
        assert check.agent is not None
        call.user = await self.tools.delegations.acting_user(call.request, check.agent)
        if problem := edge_problem(call.request.input):  # before anything walks it (the record stores it bounded)
            raise Blocked("input.too_complex", f"The input is {problem}.", status=400, code=142)
        tool = self.tools.registry.get(call.request.tool)
        if tool is None or tool.kind != call.request.kind:
            raise Blocked("tool.unknown", f"No {call.request.kind} tool named {call.request.tool!r}.")
        call.tool = tool
        if call.request.scopes is not None and scope_for(tool.kind) not in call.request.scopes:
            raise Blocked("scope.insufficient", f"This token lacks the {scope_for(tool.kind)} scope.", status=403)
        call.policy = await self.tools.policies.current(unit)
        call.input = _validated(tool, call.request.input)
        assert call.agent is not None
        if call.request.run_id is not None:
            await self._claim_run(call)
        decision = await decide(call.agent, tool, call.policy, self.tools.limits, intent=call.request.intent)
        if decision.kind == "deny":
            raise Blocked(decision.rule, decision.reason)
        call.shaper = await shaper_for(self.tools, call.request.intent, call.agent.id, call.run_id, tool.name, unit)
        if stopped := await call.shaper.stopped(call.run_id):
            raise Blocked("intent.budget", stopped)
        await self._count(call, tool)
        if call.unconfirmed is not None and call.request.kind == "write":
            call.confirmation = self.tools.confirmations.ask(call.unconfirmed)
        return decision

    async def _address_allowed(self, address: str | None) -> None:
        if address is None:
            return
        limits = self.tools.limits
        if not await limits.within(FAILED_AUTH_RATE, "auth-failed", address):
            raise Blocked("rate.address", "Too many failed authentications from this address; wait a minute.",
                          status=429)
        if not await limits.hit(ADDRESS_RATE, "address", address):
            raise Blocked("rate.address", "Too many calls from this address; slow down.", status=429)

    async def _claim_run(self, call: Call) -> None:
        assert call.agent is not None
        try:
            await self.tools.run_owners.claim(call.run_id, call.agent.id, call.user.user_id if call.user else None)
        except Blocked:
            call.run_id = "run_" + secrets.token_hex(8)  # the refusal's record: a run of its own, not the victim's
            raise

    def _run(self, call: Call) -> str:
        """The run's budgets, keyed by its owner too: two agents never share counters."""
        return f"{call.agent.id if call.agent else ''}/{call.run_id}"

    async def _count(self, call: Call, tool: Tool) -> None:
        """Check and count the run's budgets in one step (every instance counts together): never past one."""
        assert call.policy is not None
        config, write = call.policy.config, tool.kind == "write"
        caps = Caps(config.run_calls, config.run_writes if write else None, None if write else config.run_objects_read)
        if spent := await self.tools.budgets.admit(self._run(call), caps):
            if spent == "writes" and await self._committed_before(call):
                return  # a retry of a write that committed: answered from its record below, taking no place
            raise refusal(spent, caps)
        if write:
            call.reserved = self._run(call)

    async def _committed_before(self, call: Call) -> bool:
        key = call.request.idempotency_key
        return bool(key and call.agent and await self.tools.audit.find_key(call.agent.id, key))

    async def _read(self, call: Call) -> CallResult:
        """Admission and the tool share one read-only transaction; the record follows (group commit)."""
        decision: Decision | None = None
        try:
            async with self.tools.services.db.unit(read_only=True) as unit:
                decision = await self._admit(call, unit)
                assert call.tool is not None
                context = self._context(call, unit, Mode.LIVE)
                output = await call.tool.handler(context, call.input)
        except Exception as error:  # every failure of the tool is audited, then answered
            if decision is None or isinstance(error, Blocked):
                raise
            return await self._failed(call, decision, error)
        shown, _ = await self.tools.budgets.see(self._run(call), _shown(context.refs))
        if call.policy is not None and shown > call.policy.config.run_objects_read:
            raise Blocked("budget.objects", "This run has been shown as many objects as its budget allows.")
        if call.shaper is not None and (stopped := await call.shaper.account(call.run_id, context.refs)):
            raise Blocked("intent.budget", stopped)
        result = _dump(output)
        record = await self._record(call, call.entry(decision=decision.kind, rule=decision.rule,
                                                     context=context.refs, outcome="ok",
                                                     resultHash=result_hash(result)))
        return _ok(call, result, record)

    async def _write(self, call: Call) -> CallResult:
        """The tool and its audit record share one unit: they commit or roll back together.

        Admission comes first, outside that unit: on SQLite every write unit holds the one writer, and the
        writes queued behind it need not wait for this call's token, policy and rate-limit checks too.
        """
        decision = await self._admit(call, None)
        assert call.tool is not None and call.agent is not None
        try:
            async with self.tools.services.db.unit(resumable=False) as unit:
                key = call.request.idempotency_key
                if key and (first := await self.tools.audit.find_key(call.agent.id, key, unit)):
                    check_same(key, call.tool.name, _normalised(call), first.get("tool"), first.get("input"))
                    raise _Detour("replay", first)
                if decision.kind == "needs_approval":
                    raise _Detour("propose")
                if not call.tool.transactional:
                    raise _Detour("outside")
                context = self._context(call, unit, Mode.LIVE)
                result = _dump(await call.tool.handler(context, call.input))
                await self._confirm(call)
                record = await self.tools.audit.append(unit, _written(call, decision, context, result))
        except RunAgain:
            raise
        except _Detour as detour:
            return await self._detour(call, decision, detour)
        except OverCap:
            assert call.policy is not None and call.tool is not None
            await self._confirm(call)
            return await self._propose(call, over_cap(call.tool, call.tool.cap + 1, call.policy))
        except NeedsApproval as needed:
            assert call.policy is not None
            await self._confirm(call)
            return await self._propose(call, Decision("needs_approval", needed.rule, needed.reason,
                                                      call.policy.version))
        except DuplicateValue as error:  # a racing retry with the same key committed first: answer as it did
            key = call.request.idempotency_key
            first = await self.tools.audit.find_key(call.agent.id, key) if key else None
            if first is None:
                return await self._failed(call, decision, error)
            return await self._replay(call, first)
        except Exception as error:
            if isinstance(error, Blocked) or (isinstance(error, WriteConflict) and call.attempt < ATTEMPTS):
                raise  # a conflict rolled the write and its record back together: run it again
            return await self._failed(call, decision, error)
        call.committed = True
        return _ok(call, result, record)

    async def _detour(self, call: Call, decision: Decision, detour: _Detour) -> CallResult:
        await self._confirm(call)  # before a replay answers, a proposal is stored or a function runs
        if detour.action == "replay":
            return await self._replay(call, detour.payload)
        if detour.action == "propose":
            return await self._propose(call, decision)
        return await self._outside(call, decision)

    async def _outside(self, call: Call, decision: Decision) -> CallResult:
        """A tool whose writes are its own transactions (cloud functions): a read-only unit, the record after."""
        assert call.tool is not None
        if not recordable(call.entry(decision=decision.kind, rule=decision.rule, outcome="ok")):
            raise Blocked("audit.unrecordable", "This call's audit record could not be written; it did not run.",
                          status=400, code=142)
        try:
            async with self.tools.services.db.unit(read_only=True) as unit:
                context = self._context(call, unit, Mode.LIVE)
                result = _dump(await call.tool.handler(context, call.input))
        except NeedsApproval as needed:
            assert call.policy is not None
            return await self._propose(call, Decision("needs_approval", needed.rule, needed.reason,
                                                      call.policy.version))
        except Exception as error:  # noqa: BLE001
            return await self._failed(call, decision, error)
        record = await self._record(call, _written(call, decision, context, result))
        call.committed = True
        return _ok(call, result, record)

    async def _propose(self, call: Call, decision: Decision) -> CallResult:
        """Dry-run the write in a unit that rolls back; store the preview as a pending approval."""
        assert call.tool is not None and call.agent is not None and call.policy is not None
        key = call.request.idempotency_key
        if key and (earlier := await self.tools.approvals.with_key(call.agent.id, key)):
            return await self._repeat(call, key, earlier)
        try:
            async with self.tools.services.db.unit(resumable=False) as unit:
                context = self._context(call, unit, Mode.PREVIEW)
                await call.tool.handler(context, call.input)
                raise Rollback()
        except Rollback:
            pass
        except Exception as error:  # noqa: BLE001
            return await self._failed(call, decision, error)
        if decision.rule == "blast_radius":  # the live run stopped at the cap: now the real count is known
            decision = over_cap(call.tool, len(context.changes), call.policy)
        preview = preview_of(context.changes, context.side_effect_counts(), context.effects)
        if decision.kind == "deny":
            raise Blocked(decision.rule, decision.reason)
        normalised = _normalised(call) if call.input else None
        binding = binding_for(call.tool.name, call.tool.version, normalised, context.changes, context.effects,
                              call.policy.version)
        try:
            async with self.tools.services.db.unit() as unit:
                approval = await self.tools.approvals.create(unit, {
                    "agentId": call.agent.id, "runId": call.run_id, "userId": call.user.user_id if call.user else None,
                    "tool": call.tool.name, "toolVersion": call.tool.version, "input": normalised,
                    "preview": preview, "binding": binding.digest, "policyVersion": call.policy.version,
                    "reason": decision.reason, "rule": decision.rule, "idempotencyKey": key,
                }, call.policy.config.approval_ttl)
                record = await self.tools.audit.append(unit, call.entry(
                    decision=decision.kind, rule=decision.rule, approvalId=approval["objectId"], outcome="pending"))
        except DuplicateValue:  # a racing retry with the same key stored its approval first: that one it is
            earlier = await self.tools.approvals.with_key(call.agent.id, key) if key else None
            if earlier is None:
                raise
            return await self._repeat(call, str(key), earlier)
        body = {"status": "pending", "runId": call.run_id, "tool": call.tool.name, "reason": decision.reason,
                "rule": decision.rule, "approval": {"id": approval["objectId"], "status": "pending",
                                                    "expiresAt": approval["expiresAt"], "preview": preview}}
        return CallResult(202, body, record)

    async def _repeat(self, call: Call, key: str, approval: dict[str, Any]) -> CallResult:
        """A retry of a write that asked for approval: that approval again (its result once executed)."""
        assert call.tool is not None
        check_same(key, call.tool.name, _normalised(call), approval.get("tool"), approval.get("input"))
        record = await self._record(call, call.entry(decision="needs_approval", rule="idempotent.approval",
                                                     approvalId=approval["objectId"], outcome="replayed"))
        if approval.get("status") == "executed":
            return _ok(call, approval.get("result") or {}, record, replayed=True)
        body = {"status": approval.get("status"), "runId": call.run_id, "tool": call.tool.name, "replayed": True,
                "rule": approval.get("rule"), "approval": {"id": approval["objectId"], "status": approval.get("status"),
                                                           "expiresAt": approval.get("expiresAt"),
                                                           "preview": approval.get("preview")}}
        return CallResult(202, body, record)

    async def _replay(self, call: Call, first: dict[str, Any]) -> CallResult:
        record = await self._record(call, call.entry(decision="allow", rule="idempotent.replay",
                                                     outcome="replayed", replayOf=first["seq"]))
        return _ok(call, first.get("result") or {}, record, replayed=True)

    async def _failed(self, call: Call, decision: Decision, error: Exception) -> CallResult:
        """A tool that raised: nothing it did was kept (its unit rolled back); the failure is audited."""
        if isinstance(error, ParseError):
            status, code, message = status_for(error), int(error.code), error.message
        else:
            log.exception("tool %s failed", call.request.tool, exc_info=error)
            status, code = 500, 1
            message = f"Tool {call.request.tool} failed; nothing was changed."
        try:
            record = await self._record(call, call.entry(decision=decision.kind, rule=decision.rule,
                                                         outcome="error", error=message, code=code))
        except RunAgain:
            raise
        except Exception:  # no audit, no action: the write (if any) already rolled back with its record
            log.exception("audit append failed for tool %s", call.request.tool)
            return _error(call, 500, 1, "The audit trail refused the record; nothing was changed.", "audit.failed",
                          {})
        return _error(call, status, code, message, "tool.error", record)

    def _context(self, call: Call, unit: Any, mode: Mode) -> ToolContext:
        assert call.agent is not None and call.tool is not None
        request = self.tools.request_context(call.agent, call.user)
        restrict = call.agent.principal if call.user is not None else None
        tool = call.shaper.tool(call.tool) if call.shaper is not None else call.tool
        services, jobs = self.tools.handles_for(call.tool.kind)
        return ToolContext(request, services, unit, tool, mode, jobs, restrict=restrict, shaper=call.shaper)


def _written(call: Call, decision: Decision, context: ToolContext, result: dict[str, Any]) -> dict[str, Any]:
    return call.entry(decision=decision.kind, rule=decision.rule, context=context.refs,
                      changed=[change.ref() for change in context.changes], effects=context.effects or None,
                      outcome="ok", result=result if call.request.idempotency_key else None,
                      idempotencyKey=call.request.idempotency_key)


def _shown(refs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(ref["className"]), str(ref["objectId"])) for ref in refs]


def _validated(tool: Tool, raw: Any) -> BaseModel:
    try:
        if not isinstance(raw, dict):
            raise Blocked("input.invalid", "The input must be a JSON object.")
        return tool.input_model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "input"
        raise Blocked("input.invalid", f"Invalid input {where}: {first.get('msg', 'malformed')}.") from None


def _normalised(call: Call) -> Any:
    return call.input.model_dump(mode="json") if call.input else call.request.input


def _ok(call: Call, result: dict[str, Any], record: dict[str, Any], replayed: bool = False) -> CallResult:
    body = {"result": result, "runId": call.run_id, "tool": call.request.tool,
            "version": call.tool.version if call.tool else None, "audit": record.get("seq")}
    if replayed:
        body["replayed"] = True
    if call.shaper is not None:  # untrusted text in its own labelled part, the intent that shaped the result
        body |= call.shaper.parts()
    return CallResult(200, body, record)


def _error(call: Call, status: int, code: int, message: str, rule: str, record: dict[str, Any]) -> CallResult:
    body = {"code": code, "error": message, "rule": rule, "runId": call.run_id, "audit": record.get("seq")}
    return CallResult(status, body, record)
