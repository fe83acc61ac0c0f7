"""Class schemas: names, types, the cache, and growing a class on first write.

A field is added on its first write with the type of the value; a later write
of another type is refused with 111, as parse-server does. The cache changes
only after the transaction that changed the schema commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from backend import wire
from backend.context import RequestContext
from backend.errors import (
    ClassNotFound,
    IncorrectType,
    InvalidClassName,
    InvalidKeyName,
    InvalidQuery,
    InvalidSchemaOperation,
    OperationForbidden,
)
from backend.services.shared.units import Unit
from backend.storage.protocols import DEFAULT_FIELDS, FIELD_TYPES, ID_INDEX, ClassSchema, FieldSpec

CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")

SYSTEM_FIELDS: Mapping[str, Mapping[str, FieldSpec]] = {
    "_User": {
        "username": FieldSpec("String"), "password": FieldSpec("String"), "email": FieldSpec("String"),
        "emailVerified": FieldSpec("Boolean"), "authData": FieldSpec("Object"),
        # hidden columns of the identity layer (never rendered: names start with '_')
        "_hashed_password": FieldSpec("String"), "_password_history": FieldSpec("Array"),
        "_password_changed_at": FieldSpec("Date"), "_failed_login_count": FieldSpec("Number"),
        "_account_lockout_expires_at": FieldSpec("Date"), "_email_verify_token": FieldSpec("String"),
        "_email_verify_token_expires_at": FieldSpec("Date"), "_perishable_token": FieldSpec("String"),
        "_perishable_token_expires_at": FieldSpec("Date"),
    },
    "_Installation": {
        "installationId": FieldSpec("String"), "deviceToken": FieldSpec("String"),
        "channels": FieldSpec("Array"), "deviceType": FieldSpec("String"), "pushType": FieldSpec("String"),
        "GCMSenderId": FieldSpec("String"), "timeZone": FieldSpec("String"),
        "localeIdentifier": FieldSpec("String"), "badge": FieldSpec("Number"),
        "appVersion": FieldSpec("String"), "appName": FieldSpec("String"),
        "appIdentifier": FieldSpec("String"), "parseVersion": FieldSpec("String"),
    },
    "_Role": {
        "name": FieldSpec("String"), "users": FieldSpec("Relation", "_User"),
        "roles": FieldSpec("Relation", "_Role"),
    },
    "_Session": {
        "user": FieldSpec("Pointer", "_User"), "installationId": FieldSpec("String"),
        "sessionToken": FieldSpec("String"), "expiresAt": FieldSpec("Date"),
        "createdWith": FieldSpec("Object"),
    },
    "_Audience": {  # saved push audiences (/push_audiences): query is a JSON string, as in Parse
        "name": FieldSpec("String"), "query": FieldSpec("String"), "lastUsed": FieldSpec("Date"),
        "timesUsed": FieldSpec("Number"),
    },
    "_JobStatus": {
        "jobName": FieldSpec("String"), "source": FieldSpec("String"), "status": FieldSpec("String"),
        "message": FieldSpec("String"), "params": FieldSpec("Object"), "finishedAt": FieldSpec("Date"),
    },
    "_JobSchedule": {
        "jobName": FieldSpec("String"), "description": FieldSpec("String"), "params": FieldSpec("String"),
        "startAfter": FieldSpec("String"), "daysOfWeek": FieldSpec("Array"), "timeOfDay": FieldSpec("String"),
        "lastRun": FieldSpec("Number"), "repeatMinutes": FieldSpec("Number"),
    },
    # agent_tools' own records (agents, approvals, audit chain, policy versions); master-only CLPs
    "_Agent": {"name": FieldSpec("String"), "status": FieldSpec("String"), "roles": FieldSpec("Array"),
               "grants": FieldSpec("Array"), "tokenHashes": FieldSpec("Array"), "tokens": FieldSpec("Array"),
               "generation": FieldSpec("Number")},
    "_Approval": {"status": FieldSpec("String"), "agentId": FieldSpec("String"), "tool": FieldSpec("String"),
                  "input": FieldSpec("Object"), "preview": FieldSpec("Object"), "binding": FieldSpec("String")},
    "_ToolCall": {"seq": FieldSpec("Number"), "body": FieldSpec("String"), "hash": FieldSpec("String"),
                  "agentId": FieldSpec("String"), "runId": FieldSpec("String"), "tool": FieldSpec("String"),
                  "decision": FieldSpec("String"), "idempotencyKey": FieldSpec("String")},
    "_AuditHead": {"seq": FieldSpec("Number"), "hash": FieldSpec("String")},
    "_AgentPolicy": {"version": FieldSpec("Number"), "config": FieldSpec("Object")},
    # console admins and their sessions (agent_tools/stores/admins.py): the admin power app data cannot grant
    "_Admin": {"username": FieldSpec("String"), "passwordHash": FieldSpec("String"), "role": FieldSpec("String"),
               "disabled": FieldSpec("Boolean")},
    "_AdminSession": {"tokenHash": FieldSpec("String"), "adminId": FieldSpec("String"),
                      "expiresAt": FieldSpec("Date"), "ended": FieldSpec("Boolean")},
    # OAuth clients (RFC 7591), authorization codes and refresh tokens (by hash) of agent_tools/stores/oauth_grants.py
    "_OAuthGrant": {"kind": FieldSpec("String"), "key": FieldSpec("String"), "clientId": FieldSpec("String"),
                    "agentId": FieldSpec("String"), "expiresAt": FieldSpec("Number"),
                    "dataJson": FieldSpec("String")},
    "_Delegation": {"tokenHash": FieldSpec("String"), "agentId": FieldSpec("String"), "userId": FieldSpec("String"),
                    "intent": FieldSpec("String"), "expiresAt": FieldSpec("Date"), "revoked": FieldSpec("Boolean")},
    # agent_tools' run intents, per-class field policies (untrusted/sensitive) and agent-write provenance
    "_AgentIntent": {"name": FieldSpec("String"), "spec": FieldSpec("String"), "author": FieldSpec("String")},
    "_FieldPolicy": {"className": FieldSpec("String"), "untrusted": FieldSpec("Array"),
                     "sensitive": FieldSpec("Array"), "agentWritten": FieldSpec("Boolean")},
    "_Provenance": {"className": FieldSpec("String"), "targetId": FieldSpec("String"),
                    "agentId": FieldSpec("String"), "runId": FieldSpec("String"), "tool": FieldSpec("String"),
                    "op": FieldSpec("String")},
    # webhooks of /hooks (backend/services/cloud/hooks.py)
    "_Hooks": {"functionName": FieldSpec("String"), "className": FieldSpec("String"),
               "triggerName": FieldSpec("String"), "url": FieldSpec("String")},
    # what cloud code logged, for /scriptlog (backend/services/cloud/script_log.py)
    "_ScriptLog": {"level": FieldSpec("String"), "message": FieldSpec("String"), "timestamp": FieldSpec("Date"),
                   "seq": FieldSpec("Number")},  # seq: the time in seconds to the microsecond, orders lines of one ms
    # the identity layer's append-only security trail (logins, sign-ups, revocations, role changes)
    "_SecurityEvent": {"event": FieldSpec("String"), "actor": FieldSpec("String"), "ip": FieldSpec("String"),
                       "target": FieldSpec("String"), "ok": FieldSpec("Boolean"), "details": FieldSpec("Object")},
}
SYSTEM_CLASSES = frozenset(SYSTEM_FIELDS)
DEFAULT_CLP: Mapping[str, Any] = {
    op: {"*": True} for op in ("find", "count", "get", "create", "update", "delete", "addField")
} | {"protectedFields": {"*": []}}
MASTER_ONLY_CLP: Mapping[str, Any] = {op: {} for op in DEFAULT_CLP} | {"protectedFields": {}}
"""No one but the master key (and Ballast's own services) reaches the class."""


def check_class_name(class_name: str) -> None:
    if class_name in SYSTEM_CLASSES:
        return
    if not isinstance(class_name, str) or not CLASS_NAME.match(class_name):
        raise InvalidClassName(
            f"Invalid class name: {str(class_name)[:64]!r}. Class names start with a letter and "
            "contain only letters, digits and underscores."
        )


INVALID_FIELD_NAMES = frozenset({"length"})  # as parse-server's invalidColumns


def check_field_name(name: str) -> None:
    if not isinstance(name, str) or not FIELD_NAME.match(name) or name in INVALID_FIELD_NAMES:
        raise InvalidKeyName(f"Invalid field name: {str(name)[:64]}.")


def new_schema(class_name: str, fields: Mapping[str, FieldSpec] | None = None) -> ClassSchema:
    base = {name: FieldSpec(kind) for name, kind in DEFAULT_FIELDS.items()}
    return ClassSchema(class_name, {**base, **SYSTEM_FIELDS.get(class_name, {}), **(fields or {})}, DEFAULT_CLP)


def spec_for_value(value: Any) -> FieldSpec | None:
    """The field a first write of ``value`` creates (None: nothing to infer from, e.g. null)."""
    kind = wire.type_name(value)
    if kind is None or isinstance(value, wire.Delete):
        return None
    if isinstance(value, wire.Pointer):
        return FieldSpec("Pointer", value.class_name)
    if isinstance(value, wire.AddRelation | wire.RemoveRelation | wire.RelationBatch):
        pointers = value.pointers if not isinstance(value, wire.RelationBatch) else value.add + value.remove
        return FieldSpec("Relation", pointers[0].class_name if pointers else None)
    if isinstance(value, wire.RelationRef):
        return FieldSpec("Relation", value.class_name)
    return FieldSpec(kind)


def field_spec_from_wire(name: str, raw: object) -> FieldSpec:
    """A field definition as the schema API takes it: {"type": ..., "targetClass": ...}."""
    check_field_name(name)
    if not isinstance(raw, dict) or raw.get("type") not in FIELD_TYPES - {"ACL"}:
        raise IncorrectType(f"Invalid field type for {name}: use one of {', '.join(sorted(FIELD_TYPES - {'ACL'}))}.")
    target = raw.get("targetClass")
    if raw["type"] in ("Pointer", "Relation"):
        if not isinstance(target, str):
            raise InvalidSchemaOperation(f"type {raw['type']} needs a class name (targetClass).")
        check_class_name(target)
    elif target is not None:
        raise InvalidSchemaOperation(f"type {raw['type']} takes no targetClass.")
    return FieldSpec(raw["type"], target, bool(raw.get("required", False)), raw.get("defaultValue"))


_NEVER = object()


class SchemaService:
    """Reads schemas through a cache; changes them inside the caller's unit of work."""

    def __init__(self, allow_client_class_creation: bool, stamp: Callable[[], object] = lambda: None) -> None:
        self.allow_client_class_creation = allow_client_class_creation
        self._cache: dict[str, ClassSchema] = {}
        self._loaded = False
        self._stamp = stamp  # Store.schema_stamp: changes once any instance committed a schema change
        self._loaded_at: object = _NEVER

    async def load(self, unit: Unit) -> None:
        stamp = self._stamp()  # taken first: a change committed while loading makes the next unit load again
        self._cache = {schema.class_name: schema for schema in await unit.session.load_schemas()}
        self._loaded, self._loaded_at = True, stamp

    def stale(self) -> bool:
        """Whether some instance committed a schema change the cache has not loaded yet."""
        return self._stamp() != self._loaded_at

    async def refresh(self, unit: Unit) -> None:
        """Reload once any instance committed a schema change (class, field, CLP, protected fields) since the
        cache was loaded, so the next request here obeys it. Runs as every unit opens (Database.on_open); the
        stamp costs no round trip (PostgreSQL: LISTEN/NOTIFY; SQLite: a file beside the database)."""
        if self.stale():
            await self.load(unit)

    def cached(self, class_name: str) -> ClassSchema | None:
        return self._cache.get(class_name)

    def all_cached(self) -> list[ClassSchema]:
        return sorted(self._cache.values(), key=lambda schema: schema.class_name)

    async def get(self, unit: Unit, class_name: str) -> ClassSchema | None:
        """The class's schema; a miss reloads once, since another instance may have made it."""
        if not self._loaded or class_name not in self._cache:
            await self.load(unit)
        return self._cache.get(class_name)

    async def require(self, unit: Unit, class_name: str) -> ClassSchema:
        schema = await self.get(unit, class_name)
        if schema is None:
            raise ClassNotFound(f"Class {class_name} does not exist.")
        return schema

    async def ensure_class(self, unit: Unit, class_name: str, body: Mapping[str, Any]) -> ClassSchema:
        """The class, created from ``body`` when missing. Under the class's schema lock, deciding on the stored
        schema: instances starting together on a new database create it once (the rest of ``unit`` keeps the
        lock, so a caller may go on to add fields)."""
        await unit.session.lock_class(class_name)
        stored = await unit.session.load_schema(class_name)
        if stored is not None:
            self._remember(unit, stored, class_name)
            return stored
        return await self.create_class(unit, class_name, body)

    async def ensure_unique(self, unit: Unit, class_name: str, fields: tuple[str, ...]) -> None:
        """A unique index over existing fields: a later duplicate write fails with DuplicateValue (137)."""
        await unit.session.lock_class(class_name)  # two instances creating the same index at once would collide
        schema = await self.require(unit, class_name)
        missing = [name for name in fields if name not in schema.column_fields()]
        if missing or not fields:
            raise InvalidSchemaOperation(f"Cannot index {class_name}: no such field(s) {', '.join(missing)}.")
        await unit.session.ensure_unique(schema, fields)

    def _remember(self, unit: Unit, schema: ClassSchema | None, class_name: str) -> None:
        def apply() -> None:
            # only into a cache the next unit reloads anyway: once it was reloaded after this unit's commit (its
            # stamp taken after the commit bumped it), the cache already holds this change and maybe later ones
            # (PostgreSQL: another instance's, heard while this unit waited for acks before its effects ran)
            if not self.stale():
                return
            if schema is None:
                self._cache.pop(class_name, None)
            else:
                self._cache[class_name] = schema

        unit.after_commit(apply)

    async def ensure_fields(
        self, unit: Unit, ctx: RequestContext, class_name: str, values: Mapping[str, Any]
    ) -> ClassSchema:
        """The class with a field for every value written; creates class and fields as needed."""
        check_class_name(class_name)
        current = await self.get(unit, class_name)
        if current is not None and not _new_fields(class_name, current, values):
            return current
        # a change is due: take the class's schema lock and decide again on the stored schema, so two
        # instances (or requests) adding the same class or field at once cannot both try
        await unit.session.lock_class(class_name)
        current = await unit.session.load_schema(class_name)
        if current is None:
            if not (ctx.principal.is_master or self.allow_client_class_creation):
                raise OperationForbidden(
                    f"This user is not allowed to create class {class_name}: client class creation is off."
                )
            current = new_schema(class_name)
            previous = None
        else:
            previous = current
        added = _new_fields(class_name, current, values)
        if previous is not None and not added:
            self._cache[class_name] = current
            return current
        if previous is not None and not ctx.principal.is_master:
            _require_add_field(current, ctx)
        schema = current.with_fields(added)
        await self._save(unit, schema, previous)
        self._cache[class_name] = schema  # the rest of this unit sees it at once
        # and again after the commit: a concurrent reload (another request's cache miss) reads only
        # committed schemas and may have dropped this one from the cache meanwhile
        self._remember(unit, schema, class_name)
        unit.on_rollback(lambda: self.forget(class_name))
        return schema

    def forget(self, class_name: str) -> None:
        """Drop a class from the cache (after a rollback that may have changed it)."""
        self._cache.pop(class_name, None)
        self._loaded = False

    async def _save(self, unit: Unit, schema: ClassSchema, previous: ClassSchema | None) -> None:
        """Every new or changed class is stored here, after the rules that span its fields."""
        geo_points = [name for name, spec in schema.fields.items() if spec.type == "GeoPoint"]
        if len(geo_points) > 1:  # parse-server's rule (one geo index per class)
            raise IncorrectType(f"currently, only one GeoPoint field may exist in an object. Adding "
                                f"{geo_points[1]} when {geo_points[0]} already exists.")
        await unit.session.save_schema(schema, previous)

    # --- the schema API (master key) ---------------------------------------------------

    async def create_class(self, unit: Unit, class_name: str, body: Mapping[str, Any]) -> ClassSchema:
        check_class_name(class_name)
        if await self.get(unit, class_name) is not None:
            raise InvalidClassName(f"Class {class_name} already exists.")
        fields = {name: field_spec_from_wire(name, raw) for name, raw in _fields_of(body).items()}
        schema = new_schema(class_name, fields)
        schema = _with_options(schema, body)
        await self._save(unit, schema, None)
        self._remember(unit, schema, class_name)
        return schema

    async def update_class(self, unit: Unit, class_name: str, body: Mapping[str, Any]) -> ClassSchema:
        current = await self.require(unit, class_name)
        added: dict[str, FieldSpec] = {}
        removed: set[str] = set()
        for name, raw in _fields_of(body).items():
            if isinstance(raw, dict) and raw.get("__op") == "Delete":
                if name not in current.fields:
                    raise InvalidSchemaOperation(f"Field {name} does not exist, cannot delete.")
                if name in DEFAULT_FIELDS or name in SYSTEM_FIELDS.get(class_name, {}):
                    raise InvalidSchemaOperation(f"Field {name} cannot be deleted: it is a default field.")
                removed.add(name)
            elif name in current.fields:
                if not isinstance(raw, dict) or raw.get("type") != current.fields[name].type:
                    raise InvalidSchemaOperation(f"Field {name} exists, cannot update.")
                # the same type again changes nothing, as in parse-server
            else:
                added[name] = field_spec_from_wire(name, raw)
        schema = _with_options(current.without_fields(removed).with_fields(added), body)
        await self._save(unit, schema, current)
        self._remember(unit, schema, class_name)
        return schema

    async def delete_class(self, unit: Unit, class_name: str, has_objects: bool) -> None:
        check_class_name(class_name)
        if await self.get(unit, class_name) is None:
            return
        if has_objects:
            raise ClassNotEmpty(f"Class {class_name} is not empty, contains objects, cannot drop schema.")
        await unit.session.drop_class(class_name)
        self._remember(unit, None, class_name)


def _new_fields(class_name: str, schema: ClassSchema, values: Mapping[str, Any]) -> dict[str, FieldSpec]:
    """Fields a write of ``values`` adds to the class; 111 when a value contradicts a known field."""
    added: dict[str, FieldSpec] = {}
    for name, value in values.items():
        spec = spec_for_value(value)
        known = schema.fields.get(name)
        if known is not None:
            _check_type(class_name, name, known, spec)
        elif spec is not None:
            check_field_name(name)
            added[name] = spec
    return added


def _check_type(class_name: str, name: str, known: FieldSpec, written: FieldSpec | None) -> None:
    if written is None:
        return
    same = written.type == known.type and (
        written.target_class is None or known.target_class is None or written.target_class == known.target_class
    )
    if not same:
        expected = known.type + (f"<{known.target_class}>" if known.target_class else "")
        got = written.type + (f"<{written.target_class}>" if written.target_class else "")
        raise IncorrectType(f"schema mismatch for {class_name}.{name}; expected {expected} but got {got}")


def _require_add_field(schema: ClassSchema, ctx: RequestContext) -> None:
    allowed = schema.class_level_permissions.get("addField", {"*": True})
    names = ctx.principal.acl_names()
    if not any(allowed.get(name) for name in names):
        raise OperationForbidden(f"Permission denied for action addField on class {schema.class_name}.")


def _fields_of(body: Mapping[str, Any]) -> dict[str, Any]:
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise InvalidSchemaOperation("fields must be an object.")
    return fields


def _with_options(schema: ClassSchema, body: Mapping[str, Any]) -> ClassSchema:
    clp = body.get("classLevelPermissions")
    if clp is not None:
        if not isinstance(clp, dict):
            raise InvalidSchemaOperation("classLevelPermissions must be an object.")
        schema = replace(schema, class_level_permissions=clp)
    indexes = body.get("indexes")
    if indexes is not None:
        schema = replace(schema, indexes=_merge_indexes(schema, indexes))
    return schema


def _merge_indexes(schema: ClassSchema, indexes: object) -> dict[str, dict[str, int]]:
    if not isinstance(indexes, dict):
        raise InvalidSchemaOperation("indexes must be an object.")
    # Parse keeps _id_ (the objectId key) among a class's indexes once they were set, even when the last
    # other one is deleted; storage knows it as the primary key and builds nothing for it
    merged = {name: dict(keys) for name, keys in {**ID_INDEX, **schema.indexes}.items()}
    for name, keys in indexes.items():
        if name in ID_INDEX:
            raise InvalidQuery(f"Index {name} is the objectId index, it cannot change.")
        check_field_name(name)
        if isinstance(keys, dict) and keys.get("__op") == "Delete":
            if name not in merged:
                raise InvalidQuery(f"Index {name} does not exist, cannot delete.")
            del merged[name]
            continue
        if name in merged:
            raise InvalidQuery(f"Index {name} exists, cannot update.")
        if not isinstance(keys, dict) or not keys:
            raise InvalidSchemaOperation(f"Index {name} must map field names to 1 or -1.")
        for key, direction in keys.items():
            if key not in schema.fields:
                raise InvalidQuery(f"Field {key} does not exist, cannot add index.")
            if direction not in (1, -1):
                raise InvalidSchemaOperation(f"Index {name}: direction of {key} must be 1 or -1.")
        merged[name] = dict(keys)
    return merged


class ClassNotEmpty(InvalidSchemaOperation):
    """Parse answers 255 when dropping a class that still holds objects."""

