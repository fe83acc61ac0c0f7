"""Deciding approvals: on approve, exactly the previewed change runs, once, or is refused as stale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_tools.model.tool_context import Mode, Rollback, ToolContext
from agent_tools.model.tool_context import dump_output as _dump
from agent_tools.stores.approvals import ApprovalRefused, binding_for, is_expired
from backend import wire

if TYPE_CHECKING:
    from agent_tools.stores.parts import Parts


class Stale(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Approver:
    def __init__(self, tools: Parts) -> None:
        self.tools = tools

    async def approve(self, approval_id: str, admin: str) -> dict[str, Any]:
        """Run the approved change; raises ApprovalRefused (audited) if it may not run."""
        await self.tools.ready()
        shown: dict[str, Any] = {}
        try:
            async with self.tools.services.db.unit(resumable=False) as unit:
                approval = await self.tools.approvals.lock(unit, approval_id)
                shown = approval
                self._check_open(approval)
                result, changed, refs = await self._execute(unit, approval)
                extra = {"decidedBy": admin, "decidedAt": _now_date(), "result": result}
                await self.tools.approvals.set_status(approval_id, "executed", extra, unit=unit)
                await self.tools.audit.append(unit, _entry(approval, admin, "approved", "approval.approved", "ok",
                                                           changed=changed, context=refs))
        except Stale as stale:
            await self._close(shown, admin, "stale", "approval.stale", stale.reason)
            raise ApprovalRefused("approval.stale", f"Refused as stale: {stale.reason} Ask for a new preview.") \
                from None
        except ApprovalRefused as refused:
            if shown:
                status = "expired" if refused.rule == "approval.expired" else None
                await self._close(shown, admin, status, refused.rule, refused.message)
            raise
        return await self.tools.approvals.get(approval_id)

    async def deny(self, approval_id: str, admin: str, reason: str = "") -> dict[str, Any]:
        await self.tools.ready()
        async with self.tools.services.db.unit() as unit:
            approval = await self.tools.approvals.lock(unit, approval_id)
            if approval.get("status") != "pending":
                raise ApprovalRefused("approval.not_pending", f"Approval is {approval.get('status')}, not pending.")
            await self.tools.approvals.set_status(approval_id, "denied", {"decidedBy": admin,
                                                  "decidedAt": _now_date(), "denyReason": reason}, unit=unit)
            await self.tools.audit.append(unit, _entry(approval, admin, "denied", "approval.denied", "blocked",
                                                       error=reason or None))
        return await self.tools.approvals.get(approval_id)

    def _check_open(self, approval: dict[str, Any]) -> None:
        status = approval.get("status")
        if status == "expired" or (status == "pending" and is_expired(approval)):
            raise ApprovalRefused("approval.expired", "This approval has expired; ask for a new preview.")
        if status != "pending":
            raise ApprovalRefused("approval.not_pending", f"Approval is {status}, not pending; it runs only once.")

    async def staleness(self, approval: dict[str, Any]) -> str | None:
        """Why a pending approval could not run now (its preview is stale, its agent suspended), else None.

        The approved call is dry-run again in a unit that rolls back, exactly as ``approve`` would check it.
        """
        await self.tools.ready()
        try:
            async with self.tools.services.db.unit(resumable=False) as unit:
                await self._execute(unit, approval, Mode.PREVIEW)
                raise Rollback()
        except Rollback:
            return None
        except Stale as stale:
            return stale.reason
        except ApprovalRefused as refused:
            return refused.message

    async def _execute(self, unit: Any, approval: dict[str, Any],
                       mode: Mode = Mode.EXECUTE) -> tuple[dict[str, Any], list[Any], list[Any]]:
        """The approved call again (for real, or as a preview), in ``unit``; Stale if it is not the previewed
        change."""
        tools = self.tools
        agent = await tools.agents.get(approval["agentId"])
        if agent.status != "active":
            raise ApprovalRefused("agent.suspended", f"Agent {agent.name} is {agent.status}.")
        tool = tools.registry.get(approval["tool"])
        if tool is None or tool.version != approval.get("toolVersion"):
            raise Stale("the tool changed since the preview.")
        policy = await tools.policies.current()
        if policy.version != approval.get("policyVersion"):
            raise Stale("the policy changed since the preview.")
        user = await tools.user_principal(approval["userId"]) if approval.get("userId") else None
        from agent_tools.pipeline.shaping import shaper_for  # provenance (agent, run) of the approved write, as live

        shaper = await shaper_for(tools, None, agent.id, str(approval.get("runId")), tool.name, unit)
        context = ToolContext(tools.request_context(agent, user), tools.services, unit, tool, mode,
                              tools.jobs, restrict=agent.principal if user else None, shaper=shaper)
        given = tool.input_model.model_validate(approval.get("input") or {})
        try:
            output = await tool.handler(context, given)
        except Exception as error:  # noqa: BLE001 - a target that vanished or became forbidden is stale too
            raise Stale(f"the change no longer applies ({getattr(error, 'message', type(error).__name__)}).") \
                from None
        binding = binding_for(tool.name, tool.version, given.model_dump(mode="json"), context.changes, context.effects,
                              policy.version)
        if binding.digest != approval.get("binding"):
            raise Stale("the targets changed since the preview.")
        return _dump(output), [change.ref() for change in context.changes], context.refs

    async def _close(self, approval: dict[str, Any], admin: str, status: str | None, rule: str, why: str) -> None:
        """Record a refused approval (and mark it, when it can never run): its own unit, since the other rolled back."""
        async with self.tools.services.db.unit() as unit:
            if status is not None and approval.get("status") in ("pending", "expired"):
                await self.tools.approvals.set_status(approval["objectId"], status,
                                                      {"decidedBy": admin, "decidedAt": _now_date()}, unit=unit)
            await self.tools.audit.append(unit, _entry(approval, admin, "deny", rule, "blocked", error=why))


def _entry(approval: dict[str, Any], admin: str, decision: str, rule: str, outcome: str,
           **more: Any) -> dict[str, Any]:
    entry = {"agentId": approval.get("agentId"), "runId": approval.get("runId"), "userId": approval.get("userId"),
             "tool": approval.get("tool"), "kind": "write", "toolVersion": approval.get("toolVersion"),
             "policyVersion": approval.get("policyVersion"), "input": approval.get("input"),
             "approvalId": approval.get("objectId"), "approvedBy": admin, "decision": decision, "rule": rule,
             "outcome": outcome, "binding": approval.get("binding")}
    return entry | {key: value for key, value in more.items() if value is not None}


def _now_date() -> dict[str, str]:
    return {"__type": "Date", "iso": wire.format_iso(wire.now())}

