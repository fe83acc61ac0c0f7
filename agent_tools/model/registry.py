"""The tool registry: the ``@tool`` decorator and what every tool declares.

A tool is a narrow, typed function an agent may call. It declares its kind
(read or write), the roles it needs, its risk, its blast-radius cap, its rate
limit and the context it may return. Its description, schemas and those
declarations are hashed into a version, so the audit says exactly which tool ran.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, WithJsonSchema

Kind = Literal["read", "write"]
Risk = Literal["low", "high"]
Handler = Callable[[Any, Any], Awaitable[BaseModel]]  # (ToolContext, input): tool_context.py builds on this module
JsonValue = Annotated[Any, WithJsonSchema({"type": ["string", "number", "integer", "boolean", "object", "array",
                                                    "null"]})]
"""Any JSON value, declared as such: an output field typed ``Any`` would give clients an untyped schema."""

# fields no tool ever returns, whatever its scope says (emails only when the scope grants them)
ALWAYS_REDACTED = frozenset({"sessionToken", "password", "_hashed_password", "authData", "_auth_data",
                             # _User's internal reset/verify tokens and lockout state
                             "_perishable_token", "_perishable_token_expires_at", "_email_verify_token",
                             "_email_verify_token_expires_at", "_password_history", "_password_changed_at",
                             "_failed_login_count", "_account_lockout_expires_at"})


@dataclass(frozen=True)
class ContextScope:
    """What a tool may return: classes (None = any the agent may read) and fields per class."""

    classes: frozenset[str] | None = None
    fields: dict[str, frozenset[str]] = field(default_factory=dict)
    emails: bool = False  # the email field of _User is shown only when granted

    def allows_class(self, class_name: str) -> bool:
        return self.classes is None or class_name in self.classes

    def to_wire(self) -> dict[str, Any]:
        return {
            "classes": sorted(self.classes) if self.classes is not None else None,
            "fields": {name: sorted(names) for name, names in sorted(self.fields.items())},
            "emails": self.emails,
        }


@dataclass(frozen=True)
class Tool:
    """A registered tool: its declaration plus the handler that runs it."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    kind: Kind = "read"
    roles: frozenset[str] = frozenset()
    risk: Risk = "low"
    cap: int = 1  # most objects one call may change before it needs a human (writes)
    rate: str = "60/minute"  # per agent, the `limits` notation
    scope: ContextScope = field(default_factory=ContextScope)
    # False: the tool's writes happen in their own transactions (cloud functions); its audit record follows them
    transactional: bool = True
    additive: bool = False  # a write that only adds (never overwrites or removes): not destructive over MCP

    def declaration(self) -> dict[str, Any]:
        """Everything a model (and the audit) sees of this tool, without its version."""
        return {
            "name": self.name, "description": self.description, "kind": self.kind,
            "inputSchema": self.input_model.model_json_schema(),
            "outputSchema": self.output_model.model_json_schema(),
            "roles": sorted(self.roles), "risk": self.risk, "cap": self.cap, "rate": self.rate,
            "scope": self.scope.to_wire(), "transactional": self.transactional,
        }

    @cached_property  # kept on the instance (a frozen dataclass still has a __dict__), computed once
    def version(self) -> str:
        """A content hash of the declaration: a changed tool is a new version."""
        digest = hashlib.sha256(orjson.dumps(self.declaration(), option=orjson.OPT_SORT_KEYS)).hexdigest()
        return digest[:16]

    def describe(self) -> dict[str, Any]:
        return self.declaration() | {"version": self.version}


class ToolRegistry:
    """Tools by name; built-ins and an app's own tools register here."""

    def __init__(self, *, extra: ToolRegistry | None = None, replace: bool = False) -> None:
        self._tools: dict[str, Tool] = {}
        # looked up on every call, not copied: the app's tools register when its cloud code loads, after the
        # gateway was built (and again on each reload)
        self.extra = extra
        self.replace = replace  # a reloaded module declares its tools again

    def add(self, tool: Tool) -> Tool:
        if tool.name in self._tools and not self.replace:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        found = self._tools.get(name)
        return found if found is not None or self.extra is None else self.extra.get(name)

    def __iter__(self) -> Iterator[Tool]:
        mine = dict(self._tools)
        for tool in self.extra or ():  # a built-in keeps its name: an app tool cannot shadow it
            mine.setdefault(tool.name, tool)
        return iter(sorted(mine.values(), key=lambda tool: tool.name))

    def tool(
        self, name: str, *, description: str, input: type[BaseModel], output: type[BaseModel],
        kind: Kind = "read", roles: frozenset[str] | set[str] = frozenset(), risk: Risk = "low",
        cap: int = 1, rate: str = "60/minute", scope: ContextScope | None = None, transactional: bool = True,
        additive: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine ``(ctx, input) -> output`` as a tool."""

        def register(handler: Handler) -> Handler:
            self.add(Tool(name, description, input, output, handler, kind, frozenset(roles), risk, cap, rate,
                          scope or ContextScope(), transactional, additive))
            return handler

        return register


app_tools = ToolRegistry(replace=True)
"""The process-wide registry an app's own tools decorate into (``cloud_functions/`` imports it)."""

tool = app_tools.tool
"""``@tool("refund_order", description=..., input=..., output=..., kind="write", risk="high")``."""
