"""Approvals: a risky write waits, with its dry-run preview, until an admin approves or denies it.

An approval is bound to a hash of what the preview showed (tool and version,
normalised input, the targets and their updatedAt, the changes, the policy
version, the counts). On approval the write runs again, for real, in one unit;
if its binding differs from the preview's, the unit rolls back and the
approval is refused as stale. The status moves pending -> executed once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from agent_tools.model import keyset
from agent_tools.model.tool_context import Change
from agent_tools.stores.classes import APPROVAL, Records
from backend import wire
from backend.errors import ObjectNotFound, ParseCode, ParseError
from backend.services.shared.units import Unit

VOLATILE = ("createdAt", "updatedAt")
OPAQUE = ("input", "preview")
STATUSES = ("pending", "approved", "executed", "denied", "stale", "expired", "failed")


class ApprovalRefused(ParseError):
    """An approval that cannot run (not pending, expired, stale): the rule says which."""

    code = ParseCode.OPERATION_FORBIDDEN

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Binding:
    """What an approval is bound to, and its hash."""

    digest: str
    count: int


def binding_for(tool: str, version: str, input: Any, changes: list[Change], effects: list[dict[str, Any]],
                policy_version: int) -> Binding:
    """Hash of everything the admin approves: the same call on the same data hashes the same."""
    shown = [_stable(change) for change in changes]
    body = {"tool": tool, "version": version, "input": input, "changes": shown, "effects": effects,
            "policy": policy_version, "count": len(changes)}
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Binding(digest, len(changes))


def _stable(change: Change) -> dict[str, Any]:
    # a create's id and every timestamp after the write are new each run; the target's updatedAt before is not
    after = {key: value for key, value in (change.after or {}).items() if key not in VOLATILE}
    if change.op == "create":
        after.pop("objectId", None)
    return {"className": change.class_name, "objectId": change.object_id if change.op != "create" else None,
            "op": change.op, "before": change.before, "after": after}


def preview_of(changes: list[Change], counts: dict[str, int], effects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"objects": [change.to_wire() for change in changes], "count": len(changes),
            "sideEffects": counts, "heldBack": effects}


class ApprovalStore:
    """Approval records: create, read, list, and move their status (inside a unit when asked)."""

    def __init__(self, records: Records) -> None:
        self.records = records

    async def create(self, unit: Unit, fields: dict[str, Any], ttl: int) -> dict[str, Any]:
        expires = wire.now() + timedelta(seconds=ttl)
        # input and preview are kept as JSON text: an input's update operators must stay operators, not apply
        fields = dict(fields)
        for name in OPAQUE:
            fields[name + "Json"] = orjson.dumps(fields.pop(name)).decode()
        data = fields | {"status": "pending", "expiresAt": {"__type": "Date", "iso": wire.format_iso(expires)},
                         "attempts": 0}
        created = await self.records.create(APPROVAL, data, unit=unit)
        return _shown(await self.records.get(APPROVAL, created["objectId"], unit=unit))

    async def with_key(self, agent_id: str, key: str) -> dict[str, Any] | None:
        """The approval an earlier call of this agent with this Idempotency-Key asked for, if any."""
        found = await self.records.first(APPROVAL, {"agentId": agent_id, "idempotencyKey": key})
        return _shown(found) if found else None

    async def get(self, approval_id: str, unit: Unit | None = None) -> dict[str, Any]:
        try:
            return _shown(await self.records.get(APPROVAL, approval_id, unit=unit))
        except ObjectNotFound:
            raise ObjectNotFound(f"No approval {approval_id!r}.") from None

    async def lock(self, unit: Unit, approval_id: str) -> dict[str, Any]:
        """The approval, row-locked for the rest of the unit (so it runs at most once)."""
        try:
            await self.records.update(APPROVAL, approval_id, {"attempts": {"__op": "Increment", "amount": 1}},
                                      unit=unit)
        except ObjectNotFound:
            raise ObjectNotFound(f"No approval {approval_id!r}.") from None
        return await self.get(approval_id, unit)

    async def matching(self, status: str | None = None, agent_id: str | None = None, limit: int = 500,
                       skip: int = 0, after: str | None = None) -> list[dict[str, Any]]:
        """Newest first; ``after``: a keyset cursor (agent_tools/model/keyset.py) where the page starts."""
        where: dict[str, Any] = {}
        if status:
            where["status"] = status
        if agent_id:
            where["agentId"] = agent_id
        if after:
            where = {"$and": [where, keyset.after(after, "createdAt", "objectId", descending=True)]}
        found = await self.records.find(APPROVAL, where, order="-createdAt,-objectId", limit=limit, skip=skip)
        return [_shown(obj) for obj in found]

    async def pending_count(self) -> int:
        """Approvals still waiting (expired ones included until a decision or the reaper moves them)."""
        return await self.records.count(APPROVAL, {"status": "pending"})

    async def set_status(self, approval_id: str, status: str, extra: dict[str, Any] | None = None,
                         unit: Unit | None = None) -> None:
        await self.records.update(APPROVAL, approval_id, {"status": status} | (extra or {}), unit=unit)


def is_expired(approval: dict[str, Any]) -> bool:
    expires = approval.get("expiresAt")
    return bool(expires) and wire.parse_iso(expires) <= wire.now()


def _shown(obj: dict[str, Any]) -> dict[str, Any]:
    """An approval as the admin API shows it (status says 'expired' once past its time)."""
    shown = dict(obj)
    for name in OPAQUE:
        text = shown.pop(name + "Json", None)
        shown[name] = orjson.loads(text) if isinstance(text, str) else None
    expires = obj.get("expiresAt")
    if isinstance(expires, dict):
        shown["expiresAt"] = expires.get("iso")
    if shown.get("status") == "pending" and is_expired(shown):
        shown["status"] = "expired"
    return shown
