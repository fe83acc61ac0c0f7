"""Approval cards as the inbox shows them: who asks, for what, the preview as a diff, how long it waited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from backend import wire

VOLATILE = ("createdAt", "updatedAt")


@dataclass(frozen=True)
class FieldDiff:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class ObjectDiff:
    class_name: str
    object_id: str
    op: str
    fields: list[FieldDiff]


@dataclass(frozen=True)
class Card:
    id: str
    status: str
    agent: str
    user: str
    run: str
    intent: str
    tool: str
    rule: str
    reason: str
    input: str
    count: int
    objects: list[ObjectDiff]
    side_effects: dict[str, Any]
    held_back: list[Any]
    waited: str
    expires: str
    stale: str | None
    decided_by: str
    decided_at: str
    deny_reason: str


def shown(value: Any) -> str:
    """A value as compact JSON text (absent values show as an em dash)."""
    return "—" if value is None else orjson.dumps(value).decode()


def object_diff(change: dict[str, Any]) -> ObjectDiff:
    before, after = change.get("before") or {}, change.get("after") or {}
    if change.get("op") == "delete":  # the whole object goes: one line with what it held
        kept = {key: value for key, value in before.items() if key not in (*VOLATILE, "objectId")}
        fields = [FieldDiff("(object)", shown(kept), "deleted")]
    else:
        names = sorted((set(before) | set(after)) - set(VOLATILE))
        fields = [FieldDiff(name, shown(before.get(name)), shown(after.get(name))) for name in names
                  if before.get(name) != after.get(name)]
    return ObjectDiff(str(change.get("className", "")), str(change.get("objectId") or "new"),
                      str(change.get("op", "")), fields)


def card(approval: dict[str, Any], agent_names: dict[str, str], stale: str | None = None,
         now: datetime | None = None) -> Card:
    now = now or wire.now()
    preview = approval.get("preview") or {}
    agent_id = str(approval.get("agentId") or "")
    return Card(
        id=str(approval["objectId"]), status=str(approval.get("status", "")),
        agent=agent_names.get(agent_id, agent_id), user=str(approval.get("userId") or "—"),
        run=str(approval.get("runId") or "—"), intent=str(approval.get("intent") or "—"),
        tool=str(approval.get("tool", "")), rule=str(approval.get("rule") or ""),
        reason=str(approval.get("reason") or ""), input=shown(approval.get("input")),
        count=int(preview.get("count") or 0), objects=[object_diff(c) for c in preview.get("objects") or []],
        side_effects=dict(preview.get("sideEffects") or {}), held_back=list(preview.get("heldBack") or []),
        waited=since(approval.get("createdAt"), now), expires=str(approval.get("expiresAt") or "—"),
        stale=stale, decided_by=str(approval.get("decidedBy") or "—"),
        decided_at=_iso(approval.get("decidedAt")), deny_reason=str(approval.get("denyReason") or ""),
    )


def since(iso: Any, now: datetime) -> str:
    """How long ago ``iso`` was, in the largest whole unit."""
    if not isinstance(iso, str):
        return "—"
    seconds = max(0, int((now - wire.parse_iso(iso)).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _iso(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("iso") or "—")
    return str(value or "—")
