"""The schema API (``/schemas``, ``/purge``): list, read, create, change and drop classes, as parse-server answers.

The master key is checked at the edge; here a read-only master key may read
but not change anything (119), as in parse-server. Each change runs in one
unit of work through SchemaService, so a refused change leaves no trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend import querytree as q
from backend.context import RequestContext
from backend.errors import InvalidClassName, InvalidJSON, OperationForbidden, ParseCode, ParseError
from backend.services.data.schemas import SYSTEM_FIELDS, ClassNotEmpty, SchemaService, check_class_name
from backend.services.data.security_log import SecurityLog
from backend.services.shared.internal import INTERNAL_CLASSES, refuse_internal
from backend.services.shared.units import Database, Unit
from backend.storage.protocols import DEFAULT_FIELDS, ID_INDEX, ClassSchema


class ClassNameRequired(ParseError):
    code = ParseCode.MISSING_REQUIRED_FIELD
    default_message = "A class name is required."


class FieldCannotBeAdded(ParseError):
    code = ParseCode.CHANGED_IMMUTABLE_FIELD
    default_message = "This field cannot be added."


def schema_to_wire(schema: ClassSchema) -> dict[str, Any]:
    """A class as ``GET /schemas/X`` shows it: defaults included; ``_id_`` beside any index, as on PostgreSQL."""
    body: dict[str, Any] = {
        "className": schema.class_name,
        # names starting with '_' are internal columns (hashed passwords, tokens): never shown
        "fields": {name: spec.to_wire() for name, spec in schema.fields.items() if not name.startswith("_")},
        "classLevelPermissions": dict(schema.class_level_permissions),
    }
    if schema.indexes:
        body["indexes"] = {**ID_INDEX, **{name: dict(keys) for name, keys in schema.indexes.items()}}
    return body


class SchemaAdmin:
    def __init__(self, db: Database, schemas: SchemaService, security: SecurityLog) -> None:
        self.db = db
        self.schemas = schemas
        self.security = security  # schema and CLP changes join the security trail, in the same unit

    async def list(self) -> list[dict[str, Any]]:
        # the cache, brought up to the committed schema version as the unit opens (not a reload of every
        # class: replacing the cache would drop classes other requests are creating right now).
        # Ballast's own classes are not the app's: not listed (Parse Dashboard, Parse.Schema.all())
        async with self.db.unit(read_only=True):
            return [schema_to_wire(schema) for schema in self.schemas.all_cached()
                    if schema.class_name not in INTERNAL_CLASSES]

    async def get(self, class_name: str) -> dict[str, Any]:
        refuse_internal(class_name)
        async with self.db.unit(read_only=True) as unit:
            schema = await self.schemas.require(unit, class_name)  # a miss reloads once
        return schema_to_wire(schema)

    async def create(self, ctx: RequestContext, path_name: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        _writable(ctx, "create")
        body_name = body.get("className")
        if path_name and body_name is not None and body_name != path_name:
            raise InvalidClassName(f"Class name mismatch between {str(body_name)[:64]} and {path_name[:64]}.")
        class_name = path_name or body_name
        if not class_name:
            raise ClassNameRequired("POST /schemas needs a class name.")
        if not isinstance(class_name, str):
            raise InvalidClassName("The class name must be a string.")
        check_class_name(class_name)
        refuse_internal(class_name)
        _check_new_fields(class_name, body, existing=())
        async with self.db.unit() as unit:
            schema = await self.schemas.create_class(unit, class_name, body)
            await self._record(ctx, unit, "schema.create", class_name, body)
        return schema_to_wire(schema)

    async def update(self, ctx: RequestContext, class_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        _writable(ctx, "update")
        body_name = body.get("className")
        if body_name is not None and body_name != class_name:
            raise InvalidClassName(f"Class name mismatch between {str(body_name)[:64]} and {class_name[:64]}.")
        check_class_name(class_name)
        refuse_internal(class_name)
        async with self.db.unit() as unit:
            current = await self.schemas.require(unit, class_name)
            _check_new_fields(class_name, body, existing=current.fields)
            schema = await self.schemas.update_class(unit, class_name, body)
            await self._record(ctx, unit, "schema.update", class_name, body)
            if "classLevelPermissions" in body:
                before = dict(current.class_level_permissions)
                details = {"before": before, "after": body["classLevelPermissions"]}
                await self.security.record(ctx, "clp.change", target=class_name, details=details, unit=unit)
        return schema_to_wire(schema)

    async def delete(self, ctx: RequestContext, class_name: str) -> None:
        """Drop an empty class (255 if it holds objects); dropping a class that is not there succeeds."""
        _writable(ctx, "delete")
        check_class_name(class_name)
        refuse_internal(class_name)
        async with self.db.unit() as unit:
            schema = await self.schemas.get(unit, class_name)
            if schema is None:
                return
            count = await unit.session.count(schema, q.MATCH_ALL, None)
            if count:
                raise ClassNotEmpty(f"Class {class_name} is not empty, contains {count} objects, cannot drop schema.")
            await self.schemas.delete_class(unit, class_name, has_objects=False)
            await self._record(ctx, unit, "schema.delete", class_name, {})

    async def purge(self, ctx: RequestContext, class_name: str) -> None:
        """Delete every object of a class, keeping the class (a missing class is already empty)."""
        if ctx.principal.is_read_only:
            raise OperationForbidden("read-only masterKey isn't allowed to purge a schema.")
        check_class_name(class_name)
        refuse_internal(class_name)
        async with self.db.unit() as unit:
            schema = await self.schemas.get(unit, class_name)
            if schema is not None:
                await unit.session.purge(schema)
                await self._record(ctx, unit, "schema.purge", class_name, {})

    async def _record(self, ctx: RequestContext, unit: Unit, event: str, class_name: str,
                      body: Mapping[str, Any]) -> None:
        changes = {key: _described(body[key]) for key in ("fields", "indexes", "classLevelPermissions") if key in body}
        await self.security.record(ctx, event, target=class_name, details=changes, unit=unit)


def _described(section: Any) -> Any:
    """A schema body section as a record can hold it: ``{"__op": "Delete"}`` becomes ``"deleted"``."""
    if not isinstance(section, dict):
        return section
    return {name: "deleted" if isinstance(spec, dict) and spec.get("__op") == "Delete" else spec
            for name, spec in section.items()}


def _writable(ctx: RequestContext, verb: str) -> None:
    if ctx.principal.is_read_only:
        raise OperationForbidden(f"read-only masterKey isn't allowed to {verb} a schema.")


def _check_new_fields(class_name: str, body: Mapping[str, Any], existing: Mapping[str, Any] | tuple[()]) -> None:
    """Default columns cannot be added (136), as parse-server's fieldNameIsValidForClass."""
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise InvalidJSON("fields must be an object.")
    reserved = {*DEFAULT_FIELDS, *SYSTEM_FIELDS.get(class_name, {})}
    for name, raw in fields.items():
        deleting = isinstance(raw, dict) and raw.get("__op") == "Delete"
        if name in reserved and name not in existing and not deleting:
            raise FieldCannotBeAdded(f"field {name} cannot be added")
