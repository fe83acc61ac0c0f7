"""agent_tools' own records, kept as master-only Parse classes through ObjectService.

Agents, approvals, the audit chain and policy versions are ordinary objects
of system classes, so they live on both engines with no storage code of ours;
their class-level permissions admit the master key only.
"""

from __future__ import annotations

from typing import Any

from backend.context import RequestContext
from backend.services.data.appends import Appender
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.data.schemas import SchemaService
from backend.services.shared.units import Database, Unit

AGENT = "_Agent"
APPROVAL = "_Approval"
TOOL_CALL = "_ToolCall"
AUDIT_HEAD = "_AuditHead"
POLICY = "_AgentPolicy"
ADMIN = "_Admin"  # console admins (agent_tools/stores/admins.py)
ADMIN_SESSION = "_AdminSession"
GRANT = "_OAuthGrant"  # OAuth clients, authorization codes and refresh tokens (agent_tools/stores/oauth_grants.py)
DELEGATION = "_Delegation"  # an agent acting for a user (agent_tools/pipeline/delegations.py)
CLASSES = (AGENT, APPROVAL, TOOL_CALL, AUDIT_HEAD, POLICY, ADMIN, ADMIN_SESSION, GRANT, DELEGATION)
# seq keeps the chain a line; (agentId, idempotencyKey) lets one of two racing retries commit, never both
UNIQUE: tuple[tuple[str, tuple[str, ...]], ...] = (
    (TOOL_CALL, ("seq",)), (TOOL_CALL, ("agentId", "idempotencyKey")), (POLICY, ("version",)),
    (APPROVAL, ("agentId", "idempotencyKey")),  # one approval per retried write, even racing
    (ADMIN, ("username",)), (ADMIN_SESSION, ("tokenHash",)), (GRANT, ("key",)), (DELEGATION, ("tokenHash",)),
)

# every field these classes ever hold, made at start: a field first written by two racing calls would otherwise
# grow the table from both transactions at once (on PostgreSQL: ALTER TABLE in both, a deadlock)
FIELDS: dict[str, dict[str, str]] = {
    AGENT: {"name": "String", "status": "String", "roles": "Array", "grants": "Array", "owner": "String",
            "tokens": "Array", "tokenHashes": "Array", "generation": "Number"},
    APPROVAL: {"status": "String", "agentId": "String", "runId": "String", "userId": "String", "tool": "String",
               "toolVersion": "String", "inputJson": "String", "previewJson": "String", "binding": "String",
               "policyVersion": "Number", "reason": "String", "rule": "String", "expiresAt": "Date",
               "attempts": "Number", "decidedBy": "String", "decidedAt": "Date", "result": "Object",
               "denyReason": "String", "idempotencyKey": "String"},
    TOOL_CALL: {"seq": "Number", "body": "String", "hash": "String", "agentId": "String", "runId": "String",
                "tool": "String", "decision": "String", "outcome": "String", "idempotencyKey": "String",
                "approvalId": "String", "rule": "String"},
    AUDIT_HEAD: {"chain": "Number", "seq": "Number", "hash": "String", "copies": "String"},
    POLICY: {"version": "Number", "config": "Object", "author": "String"},
    ADMIN: {"username": "String", "passwordHash": "String", "role": "String", "disabled": "Boolean"},
    ADMIN_SESSION: {"tokenHash": "String", "adminId": "String", "expiresAt": "Date", "ended": "Boolean"},
    GRANT: {"kind": "String", "key": "String", "clientId": "String", "agentId": "String", "expiresAt": "Number",
            "dataJson": "String"},
    DELEGATION: {"tokenHash": "String", "agentId": "String", "userId": "String", "intent": "String",
                 "expiresAt": "Date", "revoked": "Boolean"},
}
# what the admin console and the admin API list and filter by, newest first, at a million records
INDEXES: dict[str, dict[str, dict[str, int]]] = {
    APPROVAL: {"status_created": {"status": 1, "createdAt": -1}},
    TOOL_CALL: {"created_seq": {"createdAt": 1, "seq": 1}, "agent_created": {"agentId": 1, "createdAt": 1},
                "run_created": {"runId": 1, "createdAt": 1},
                # the console's insights: counts per tool and per denial rule over a time window
                "tool_created": {"tool": 1, "createdAt": 1},
                "decision_rule": {"decision": 1, "rule": 1, "createdAt": 1},
                # covers the insights' one grouped count (faces/insights.py): the window is read from this index
                # alone, never from the records' rows (at a million records on SQLite: 9 s without it, 4 s with)
                "insights": {"createdAt": 1, "agentId": 1, "tool": 1, "decision": 1, "outcome": 1, "rule": 1}},
}
SYSTEM = RequestContext.internal()  # the one principal internal classes admit (services/shared/internal.py)
MASTER_ONLY_CLP: dict[str, Any] = {
    op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")
} | {"protectedFields": {}}


class Records:
    """Master-context reads and writes of agent_tools' classes (optionally inside a unit)."""

    def __init__(self, db: Database, objects: ObjectService, schemas: SchemaService) -> None:
        self.db = db
        self.objects = objects
        self.schemas = schemas
        self.rows = Appender(schemas)  # per-call lookups and marks of system rows, without ObjectService's work

    async def ensure_classes(self) -> None:
        """Create the classes (master-only) and their unique indexes, once."""
        async with self.db.unit() as unit:
            for name in CLASSES:
                wanted = {field: {"type": kind} for field, kind in FIELDS[name].items()}
                schema = await self.schemas.ensure_class(unit, name, {"classLevelPermissions": MASTER_ONLY_CLP,
                                                                      "fields": wanted})
                if missing := {field: spec for field, spec in wanted.items() if field not in schema.fields}:
                    schema = await self.schemas.update_class(unit, name, {"fields": missing})
                wanted_indexes = INDEXES.get(name, {})
                if absent := {key: spec for key, spec in wanted_indexes.items() if key not in schema.indexes}:
                    await self.schemas.update_class(unit, name, {"indexes": absent})
        async with self.db.unit() as unit:
            # each class's schema lock is held to the commit: take them in the order the unit above took
            # them, or two instances starting together each hold one the other waits for (a deadlock)
            for name, fields in sorted(UNIQUE, key=lambda unique: CLASSES.index(unique[0])):
                await self.schemas.ensure_unique(unit, name, fields)

    async def create(self, class_name: str, data: dict[str, Any], unit: Unit | None = None) -> dict[str, Any]:
        return await self.objects.create(SYSTEM, class_name, data, unit=unit)

    async def update(self, class_name: str, object_id: str, data: dict[str, Any],
                     unit: Unit | None = None) -> dict[str, Any]:
        return await self.objects.update(SYSTEM, class_name, object_id, data, unit=unit)

    async def get(self, class_name: str, object_id: str, unit: Unit | None = None) -> dict[str, Any]:
        return await self.objects.get(SYSTEM, class_name, object_id, unit=unit)

    async def delete(self, class_name: str, object_id: str, unit: Unit | None = None) -> None:
        """Delete one row (ObjectNotFound when it is already gone: how a one-time grant is claimed)."""
        await self.objects.delete(SYSTEM, class_name, object_id, unit=unit)

    async def find(self, class_name: str, where: dict[str, Any] | None = None, *, order: str | None = None,
                   limit: int = 100, skip: int = 0, unit: Unit | None = None) -> list[dict[str, Any]]:
        options = FindOptions(where=where or {}, order=order, limit=limit, skip=skip)
        return (await self.objects.find(SYSTEM, class_name, options, unit=unit)).results

    async def count(self, class_name: str, where: dict[str, Any]) -> int:
        options = FindOptions(where=where, limit=0, count=True)
        return (await self.objects.find(SYSTEM, class_name, options)).count or 0

    async def count_by(self, class_name: str, where: dict[str, Any], fields: tuple[str, ...],
                       bucket: str | None = None, edges: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], int]]:
        """Counts per group in one indexed ``GROUP BY`` (``ObjectService.count_by``)."""
        return await self.objects.count_by(SYSTEM, class_name, where, fields, bucket, edges)

    async def row(self, class_name: str, object_id: str, unit: Unit | None = None) -> dict[str, Any] | None:
        """The stored row by id (dates as datetimes), read in ``unit`` or a read-only unit of its own.

        What every tool call does to find its agent: one prebuilt by-id statement, no CLP, rendering or
        triggers (these classes are master-only and unhooked), so it can be read fresh on every call.
        """
        if unit is not None:
            return await self.rows.fetch(unit, class_name, object_id)
        async with self.db.unit(read_only=True) as own:
            return await self.rows.fetch(own, class_name, object_id)

    async def first(self, class_name: str, where: dict[str, Any], *, order: str | None = None,
                    unit: Unit | None = None) -> dict[str, Any] | None:
        found = await self.find(class_name, where, order=order, limit=1, unit=unit)
        return found[0] if found else None
