"""How gateway tools and results look over MCP: declarations, annotations and results any client accepts.

Every output schema is fully typed (no untyped property), a success carries
``structuredContent`` valid against it plus the same as text, a pending write
is a typed ``pending`` result the agent polls with ``approval_status``, and a
refusal or failure is ``isError`` with a readable text (what happened, the
rule, what to do next) and no structured content, which a client would check
against the success schema. An unknown tool is a JSON-RPC error (a protocol
error), after the gateway has audited the attempt.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import mcp_types as types
import orjson
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, create_model

from agent_tools.model.registry import JsonValue, Tool
from agent_tools.pipeline.call import CallResult
from agent_tools.pipeline.shaping import UNTRUSTED_LABEL
from agent_tools.stores.oauth_tokens import scope_for


class PreviewChange(BaseModel):
    className: str
    objectId: str
    op: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class Preview(BaseModel):
    """What an approved write would change (the dry run a human approves)."""

    objects: list[PreviewChange]
    count: int
    sideEffects: dict[str, int]
    heldBack: list[dict[str, Any]]


class ApprovalInfo(BaseModel):
    id: str
    status: str
    expiresAt: str | None = None
    preview: Preview | None = None


class UntrustedItem(BaseModel):
    ref: str
    className: str
    objectId: str
    field: str
    value: JsonValue = None


class UntrustedPart(BaseModel):
    label: str
    items: list[UntrustedItem]


@lru_cache(maxsize=512)
def envelope(output_model: type[BaseModel]) -> type[BaseModel]:
    """The structured output of a tool over MCP: its result (or a pending approval) and the untrusted part."""
    status: Any = Literal["ok", "pending"]
    result: Any = output_model | None
    model: type[BaseModel] = create_model(
        f"{output_model.__name__}Envelope",
        status=(status, ...), runId=(str, ...), tool=(str, ...),
        version=(str | None, None), audit=(int | None, None), result=(result, None),
        approval=(ApprovalInfo | None, None), reason=(str | None, None), rule=(str | None, None),
        untrusted=(UntrustedPart | None, None), intent=(str | None, None), replayed=(bool | None, None),
    )
    return model


def hints(tool: Tool) -> types.ToolAnnotations:
    """MCP annotations from the registry's declaration: a write that may overwrite or remove is destructive."""
    read = tool.kind == "read"
    return types.ToolAnnotations(title=tool.name.replace("_", " "), read_only_hint=read,
                                 destructive_hint=not read and not tool.additive, idempotent_hint=read,
                                 open_world_hint=False)


def as_mcp_tool(tool: Tool) -> types.Tool:
    declared = tool.describe()
    return types.Tool(name=tool.name, description=tool.description, input_schema=declared["inputSchema"],
                      output_schema=envelope(tool.output_model).model_json_schema(), annotations=hints(tool),
                      _meta={"ballast/version": declared["version"], "ballast/kind": tool.kind,
                             "ballast/risk": tool.risk, "ballast/scope": scope_for(tool.kind)})


NEXT_STEP = {
    "input": "Fix the arguments to match the tool's inputSchema and call again.",
    "tool": "Check the arguments (list_classes, describe_class and query_objects show what exists) and try again.",
    "rate": "Too many calls: wait a minute before calling again.",
    "budget": "This run's budget is spent: stop here, or ask a human for a new run.",
    "intent": "This run's intent does not allow it: stay within the intent's tools, classes and rows.",
    "grant": "This agent lacks the grant: ask an admin to grant it.",
    "roles": "This agent lacks a role the tool needs: ask an admin.",
    "scope": "Sign in again asking for the scope this tool needs.",
    "token": "Sign in again (the access token or its agent is no longer valid).",
    "agent": "This agent is not active: ask an admin.",
    "approval": "Ask for the change again to get a fresh approval.",
    "global": "Writes are switched off by the server's policy: try again later or ask an admin.",
    "delegation": "The user this agent acts for must sign in again.",
    "audit": "Nothing was changed; try again later.",
}


def _next_step(rule: str) -> str:
    return NEXT_STEP.get(rule.split(".")[0], "Do not retry the same call unchanged.")


def refusal_text(body: dict[str, Any]) -> str:
    """A readable refusal: what happened, the rule, what to do next, and where it is recorded."""
    rule = str(body.get("rule") or "tool.error")
    what = str(body.get("error") or "The call failed").rstrip(".")
    text = f"{what} (rule {rule}, code {body.get('code')}). {_next_step(rule)}"
    if body.get("audit") is not None:
        text += f" Audit record #{body['audit']}, run {body.get('runId')}."
    return text


def pending_text(body: dict[str, Any]) -> str:
    approval = body.get("approval") or {}
    return (f"Waiting for a human's approval (rule {body.get('rule')}): {body.get('reason')} Nothing has changed "
            f"yet. Poll approval_status with approvalId {approval.get('id')!r} to see whether it ran.")


def as_mcp_result(result: CallResult) -> types.CallToolResult:
    """The gateway's answer as an MCP result; an unknown tool raises a JSON-RPC error instead."""
    body = dict(result.body)
    if result.status not in (200, 202):
        if body.get("rule") == "tool.unknown":
            raise MCPError(types.INVALID_PARAMS, str(body.get("error")))
        return types.CallToolResult(content=[types.TextContent(text=refusal_text(body))], is_error=True)
    body["status"] = "ok" if result.status == 200 else "pending"
    untrusted = body.get("untrusted")
    instructions = {key: value for key, value in body.items() if key != "untrusted"}
    content: list[types.ContentBlock] = [types.TextContent(text=orjson.dumps(instructions).decode())]
    if result.status == 202:
        content.insert(0, types.TextContent(text=pending_text(body)))
    if untrusted:  # a separate, labelled block: never mixed into the result the model acts on
        content.append(types.TextContent(text=f"[{UNTRUSTED_LABEL}]\n" + orjson.dumps(untrusted).decode()))
    return types.CallToolResult(content=content, structured_content=body)
