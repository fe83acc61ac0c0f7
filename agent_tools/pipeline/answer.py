"""The answer a face translates: a result (200), a pending approval (202), or a Parse-style error."""

from __future__ import annotations

from typing import Any

from agent_tools.pipeline.call import Call, CallResult, Failure

Record = dict[str, Any]


def ok(call: Call, result: Record, record: Record, replayed: bool = False) -> CallResult:
    body = {"result": result, "runId": call.run_id, "tool": call.request.tool,
            "version": call.tool.version if call.tool else None, "audit": record.get("seq")}
    if replayed:
        body["replayed"] = True
    if call.shaper is not None:  # untrusted text in its own labelled part, the intent that shaped the result
        body |= call.shaper.parts()
    return CallResult(200, body, record)


def pending(call: Call, reason: str, rule: str, approval: Record, preview: Record, record: Record) -> CallResult:
    assert call.tool is not None
    body = {"status": "pending", "runId": call.run_id, "tool": call.tool.name, "reason": reason, "rule": rule,
            "approval": {"id": approval["objectId"], "status": "pending", "expiresAt": approval["expiresAt"],
                         "preview": preview}}
    return CallResult(202, body, record)


def repeated(call: Call, approval: Record, record: Record) -> CallResult:
    """A retry of a write that asked for approval: that approval again, or its result once executed."""
    if approval.get("status") == "executed":
        return ok(call, approval.get("result") or {}, record, replayed=True)
    assert call.tool is not None
    body = {"status": approval.get("status"), "runId": call.run_id, "tool": call.tool.name, "replayed": True,
            "rule": approval.get("rule"), "approval": {"id": approval["objectId"], "status": approval.get("status"),
                                                       "expiresAt": approval.get("expiresAt"),
                                                       "preview": approval.get("preview")}}
    return CallResult(202, body, record)


def failed(call: Call, failure: Failure, record: Record | None) -> CallResult:
    if record is None:
        return error(call, 500, 1, "The audit trail refused the record; nothing was changed.", "audit.failed", {})
    return error(call, failure.status, failure.code, failure.message, "tool.error", record)


def error(call: Call, status: int, code: int, message: str, rule: str, record: Record) -> CallResult:
    body = {"code": code, "error": message, "rule": rule, "runId": call.run_id, "audit": record.get("seq")}
    return CallResult(status, body, record)
