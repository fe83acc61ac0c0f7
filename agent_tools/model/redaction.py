"""What a tool may show: the context scope and the fields no agent ever sees (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_tools.model.registry import ALWAYS_REDACTED, ContextScope
from backend.context import Principal, ReadLimits
from backend.errors import OperationForbidden

EMAIL = "email"


def redact(obj: dict[str, Any], class_name: str, scope: ContextScope) -> dict[str, Any]:
    """The object as the scope allows it: secrets gone, emails unless granted, scoped fields only."""
    wanted = scope.fields.get(class_name)
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if name in ALWAYS_REDACTED or (name == EMAIL and not scope.emails):
            continue
        if wanted is not None and name not in wanted and name not in ("objectId", "createdAt", "updatedAt"):
            continue
        out[name] = _nested(value, scope)
    return out


def _nested(value: Any, scope: ContextScope) -> Any:
    # included pointers come back as whole objects: redact them by their own class
    if isinstance(value, dict):
        if value.get("__type") == "Object" and isinstance(value.get("className"), str):
            return redact(value, value["className"], scope) | {"__type": "Object", "className": value["className"]}
        return {key: _nested(item, scope) for key, item in value.items() if key not in ALWAYS_REDACTED}
    if isinstance(value, list):
        return [_nested(item, scope) for item in value]
    return value


def read_limits(scope: ContextScope, also: Principal | None, rows: Mapping[str, Any]) -> ReadLimits:
    """What every read of a tool call is narrowed to, at any depth (``services.reads`` applies it):
    the scope's classes and fields, the fields no agent sees, the intent's rows, and under
    delegation what the agent itself may read."""
    hidden = ALWAYS_REDACTED if scope.emails else ALWAYS_REDACTED | {EMAIL}
    return ReadLimits(also=also, classes=scope.classes, fields=dict(scope.fields), hidden=hidden, rows=dict(rows))


def check_class(class_name: str, scope: ContextScope) -> None:
    if not scope.allows_class(class_name):
        raise OperationForbidden(f"This tool may not touch class {class_name}.")


def check_names(names: list[str], scope: ContextScope, what: str) -> None:
    """Refuse keys, orders or constraints on redacted fields: a filter on a secret is an oracle for it."""
    for name in names:
        root = name.lstrip("-").split(".")[0]
        if root in ALWAYS_REDACTED or (root == EMAIL and not scope.emails):
            raise OperationForbidden(f"Field {root} is never available to agents ({what}).")


def where_fields(where: Any) -> list[str]:
    """Every field name a where clause mentions, through $or/$and/$nor and nested queries."""
    names: list[str] = []
    if isinstance(where, dict):
        for key, value in where.items():
            if key in ("$or", "$and", "$nor") and isinstance(value, list):
                for part in value:
                    names += where_fields(part)
            elif not key.startswith("$"):
                names.append(key)
    return names
