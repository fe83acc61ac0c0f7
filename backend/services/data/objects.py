"""ObjectService: the one data path (docs/architecture.md rule 1).

REST handlers, LiveQuery, cloud code, jobs and agent tools all create, read,
update and delete objects here. Schema growth, ACL/CLP, update operators,
relations and change events happen in this module, once.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from backend import jsontext, wire
from backend import querytree as q
from backend.context import RequestContext
from backend.errors import (
    DuplicateValue,
    InvalidJSON,
    InvalidKeyName,
    InvalidQuery,
    MissingObjectId,
    ObjectNotFound,
    ParseCode,
    error_for_code,
)
from backend.services.data import field_rules, nested, ops, reads
from backend.services.data.includes import Includer
from backend.services.data.query import parse_keys, parse_order, parse_where
from backend.services.data.render import FileUrl, WireShape, project, render
from backend.services.data.schemas import SchemaService, check_class_name, new_schema
from backend.services.shared import access
from backend.services.shared.events import EventBus, ObjectEvent
from backend.services.shared.triggers import FindRequest, NoTriggers, SaveRequest, Triggers
from backend.services.shared.units import Database, Unit
from backend.storage.protocols import ClassSchema, Row, TransactionRequired

ID_ALPHABET = string.ascii_letters + string.digits
USER_CLASS = "_User"
RESERVED = frozenset({"objectId", "createdAt", "updatedAt"})


# byte -> its id character (byte % 62); bytes of 248 and above are dropped, so every character is equally likely
# (248 = 4 x 62)
_ID_CHARS = bytes(ord(ID_ALPHABET[byte % len(ID_ALPHABET)]) for byte in range(256))
_UNEVEN_BYTES = bytes(range(248, 256))


def new_object_id() -> str:
    """Ten random letters and digits from one read of the OS generator (not ten: each was a syscall), mapped
    by ``bytes.translate`` (C, not a Python loop over the bytes)."""
    while True:
        picked = secrets.token_bytes(16).translate(_ID_CHARS, _UNEVEN_BYTES)
        if len(picked) >= 10:
            return picked[:10].decode()


@dataclass(frozen=True)
class FindOptions:
    """A query as a client states it (still raw JSON; checked by ``find``)."""

    where: Any = None
    order: Any = None
    limit: Any = 100
    skip: Any = 0
    keys: Any = None
    exclude_keys: Any = None
    include: Any = None
    count: bool = False
    redirect_class_name_for_key: Any = None


@dataclass(frozen=True)
class FindResult:
    results: list[dict[str, Any]]
    count: int | None = None
    class_name: str | None = None  # set when redirectClassNameForKey moved the query


class WriteGuard(Protocol):
    """A system class's own write rules (``_User`` hashes passwords, ``_Role`` checks names...).

    Called inside the unit before the row is written, with the decoded values (it may remove
    some, e.g. ``password``) and the row or changes about to be stored (it may add hidden
    ``_``-columns, e.g. ``_hashed_password``). ``before`` is None on create.
    """

    async def __call__(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], row: Row,
                       before: Row | None) -> None: ...


class ObjectService:
    def __init__(self, db: Database, schemas: SchemaService, events: EventBus, file_url: FileUrl,
                 max_limit: int, triggers: Triggers | None = None) -> None:
        self.db = db
        self.schemas = schemas
        self.events = events
        self.file_url = file_url
        self.wire_shape = WireShape(file_url)  # find and get: rows straight to Parse JSON (see render.WireShape)
        self.max_limit = max_limit
        self.triggers: Triggers = triggers or NoTriggers()
        self.guards: dict[str, WriteGuard] = {}  # class name -> its write rules (identity layer)

    # --- writes ----------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, class_name: str, data: Mapping[str, Any], unit: Unit | None = None
    ) -> dict[str, Any]:
        """Create an object; answers ``{objectId, createdAt}`` plus the values of any ops."""
        check_class_name(class_name)
        sent = data
        data = await self._before_save(ctx, class_name, data, None, None)
        values, perms = _decode_body(await self._prepare(class_name, data), creating=True)
        # a plain create is one INSERT: it runs without BEGIN / COMMIT unless it turns out to need more
        # (a new field, a relation): then the session refuses before writing, and it runs in a transaction
        single_write = unit is None and class_name not in self.guards and not any(map(ops.is_relation_op,
                                                                                    values.values()))
        try:
            row, defaulted = await self._insert(ctx, class_name, values, perms, unit, single_write=single_write)
        except TransactionRequired:
            row, defaulted = await self._insert(ctx, class_name, values, perms, unit, single_write=False)
        response: dict[str, Any] = {"objectId": row["objectId"], "createdAt": wire.format_iso(row["createdAt"])}
        # Parse answers with the defaults it set, as with fields a trigger changed
        return response | _echo(values, row, _changed_by_trigger(sent, data) | defaulted)

    async def _insert(
        self, ctx: RequestContext, class_name: str, values: dict[str, Any], perms: object,
        unit: Unit | None, *, single_write: bool,
    ) -> tuple[Row, set[str]]:
        async with self.db.unit(unit, single_write=single_write) as work:
            known = await self.schemas.get(work, class_name)
            if known is not None:
                access.require_class(ctx.principal, known, "create")
            schema = await self.schemas.ensure_fields(work, ctx, class_name, values)
            if schema is not known:  # a new class or new fields: its permissions may have changed
                access.require_class(ctx.principal, schema, "create")
            defaulted = field_rules.apply(schema, values, creating=True)
            now = wire.now()
            row: Row = {"objectId": new_object_id(), "createdAt": now, "updatedAt": now}
            row |= _perms_columns(perms)
            await self._guard(work, ctx, class_name, values, row, None)
            for name, value in values.items():
                if not ops.is_relation_op(value):
                    row[name] = ops.apply(name, None, value)
            try:  # a SAVEPOINT only for a caller's unit that may go on after a failure: an own unit fails whole
                await work.session.insert(schema, row, savepoint=unit is not None and unit.resumable)
            except DuplicateValue as error:
                raise self._explain(class_name, error) from error
            await self._apply_relations(work, schema, row["objectId"], values)
            self._announce(work, ObjectEvent("create", schema, None, row, ctx))
            self._after_save(work, ctx, schema, row, None)
        return row, defaulted

    async def update(
        self, ctx: RequestContext, class_name: str, object_id: str, data: Mapping[str, Any],
        unit: Unit | None = None,
    ) -> dict[str, Any]:
        """Update an object; answers ``{updatedAt}`` plus the values of any ops."""
        check_class_name(class_name)
        sent = data
        if self.triggers.handles("beforeSave", class_name):
            original = await self._current(ctx, class_name, object_id, unit)
            data = await self._before_save(ctx, class_name, data, original, object_id)
        values, perms = _decode_body(await self._prepare(class_name, data), creating=False)
        values, dotted = nested.gather(values)
        async with self.db.unit(unit) as work:
            schema, before = await self._writable(work, ctx, class_name, object_id, "update")
            for top, inner in dotted.items():  # "a.b" keys: the new whole field, from the locked row
                values[top] = nested.apply(top, before.get(top), inner)
            changes: Row = {"updatedAt": wire.now()} | _perms_columns(perms)
            await self._guard(work, ctx, class_name, values, changes, before)
            schema = await self.schemas.ensure_fields(work, ctx, class_name, values)
            field_rules.apply(schema, values, creating=False)
            for name, value in values.items():
                if not ops.is_relation_op(value):
                    changes[name] = ops.apply(name, before.get(name), value)
            try:
                await work.session.update(schema, object_id, changes, savepoint=unit is not None and unit.resumable)
            except DuplicateValue as error:
                raise self._explain(class_name, error) from error
            await self._apply_relations(work, schema, object_id, values)
            after = {**before, **changes}
            self._announce(work, ObjectEvent("update", schema, before, after, ctx))
            self._after_save(work, ctx, schema, after, before)
        updated = {"updatedAt": wire.format_iso(changes["updatedAt"])}
        if not access.can_read(ctx.principal, before):  # a write-only caller learns no stored values
            return updated
        updated |= {top: wire.encode(after[top]) for top in dotted}  # Parse answers with the changed field
        return updated | _echo(values, after, _changed_by_trigger(sent, data))

    async def delete(self, ctx: RequestContext, class_name: str, object_id: str, unit: Unit | None = None) -> None:
        check_class_name(class_name)
        if self.triggers.handles("beforeDelete", class_name):
            await self.triggers.before_delete(ctx, class_name, await self._current(ctx, class_name, object_id, unit))
        async with self.db.unit(unit) as work:
            schema, before = await self._writable(work, ctx, class_name, object_id, "delete")
            await self._guard(work, ctx, class_name, None, {}, before)
            await work.session.delete(schema, object_id)
            self._announce(work, ObjectEvent("delete", schema, before, None, ctx))
            if self.triggers.handles("afterDelete", class_name):
                gone = render(schema, before, self.file_url)
                work.after_commit(lambda: self.triggers.after_delete(ctx, class_name, gone))

    async def _writable(
        self, unit: Unit, ctx: RequestContext, class_name: str, object_id: str, operation: access.Operation
    ) -> tuple[ClassSchema, Row]:
        """The object, locked, once every rule lets ``ctx`` change it; Parse's 101 when any says no."""
        try:
            schema = await self.schemas.get(unit, class_name)
            access.require_class(ctx.principal, schema or new_schema(class_name), operation)
            if schema is None:
                raise ObjectNotFound("Object not found.")
            before = await unit.session.fetch_for_update(schema, object_id)
            if before is None:  # as in Parse, the write ACL alone decides: public write, no read, may write
                raise ObjectNotFound("Object not found.")
            access.require_write(ctx.principal, before)
            access.require_row(ctx.principal, schema, operation, before)
        except ObjectNotFound:
            if class_name == USER_CLASS and not ctx.principal.is_master:
                raise error_for_code(ParseCode.SESSION_MISSING, "Insufficient auth.") from None  # Parse's 206
            raise
        return schema, before

    async def _guard(
        self, unit: Unit, ctx: RequestContext, class_name: str, values: dict[str, Any] | None, row: Row,
        before: Row | None,
    ) -> None:
        guard = self.guards.get(class_name)
        if guard is not None:  # values None: a delete
            await guard(unit, ctx, values if values is not None else {"__delete__": True}, row, before)

    async def _prepare(self, class_name: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A guard's slow, pure work on the body before any unit opens (``_User``: the password's hash)."""
        prepare = getattr(self.guards.get(class_name), "prepare", None)
        return await prepare(data) if prepare is not None else data

    def _explain(self, class_name: str, error: DuplicateValue) -> Exception:
        """A guard may name a broken unique field Parse's way (``_User``: 202 username, 203 email)."""
        explain = getattr(self.guards.get(class_name), "explain_duplicate", None)
        return explain(error) if explain is not None else error

    async def _current(self, ctx: RequestContext, class_name: str, object_id: str, unit: Unit | None) -> dict[str, Any]:
        """The object as the caller may see it now (what before* triggers are shown)."""
        return await self.get(ctx, class_name, object_id, unit=unit, find_triggers=False)

    async def _before_save(
        self, ctx: RequestContext, class_name: str, data: Mapping[str, Any], original: dict[str, Any] | None,
        object_id: str | None,
    ) -> Mapping[str, Any]:
        if not self.triggers.handles("beforeSave", class_name):
            return data
        if not isinstance(data, Mapping):
            raise InvalidJSON("The request body must be a JSON object.")
        request = SaveRequest(ctx, class_name, dict(data), original, object_id)
        await self.triggers.before_save(request)
        return request.data

    def _after_save(self, unit: Unit, ctx: RequestContext, schema: ClassSchema, row: Row, before: Row | None) -> None:
        if not self.triggers.handles("afterSave", schema.class_name):
            return
        saved = render(schema, row, self.file_url)
        original = render(schema, before, self.file_url) if before is not None else None
        unit.after_commit(lambda: self.triggers.after_save(ctx, schema.class_name, saved, original))

    async def _apply_relations(self, unit: Unit, schema: ClassSchema, object_id: str, values: Row) -> None:
        for name, value in values.items():
            added, removed = ops.relation_changes(value)
            if added:
                await unit.session.add_relations(schema, name, object_id, [p.object_id for p in added])
            if removed:
                await unit.session.remove_relations(schema, name, object_id, [p.object_id for p in removed])

    def _announce(self, unit: Unit, event: ObjectEvent) -> None:
        unit.after_commit(lambda: self.events.publish(event))

    # --- reads -----------------------------------------------------------------------

    async def get(
        self, ctx: RequestContext, class_name: str, object_id: str, *, keys: Any = None, include: Any = None,
        exclude_keys: Any = None, unit: Unit | None = None, find_triggers: bool = True,
    ) -> dict[str, Any]:
        check_class_name(class_name)
        if not object_id:
            raise MissingObjectId()
        narrowed: Any = None
        if find_triggers and self.triggers.handles("beforeFind", class_name):  # Parse runs it on a get too
            request = FindRequest(ctx, class_name, {"objectId": object_id}, {}, is_get=True)
            await self.triggers.before_find(request)
            narrowed = request.where
            keys = request.options.get("keys", keys)
            include = request.options.get("include", include)
            exclude_keys = request.options.get("exclude_keys", exclude_keys)
        async with self.db.unit(unit, read_only=unit is None) as work:
            schema = await self.schemas.get(work, class_name)
            if schema is None:  # the rules by name still come first: a master-only class is 119, not 101
                access.require_class(ctx.principal, new_schema(class_name), "get")
                raise ObjectNotFound("Object not found.")
            by_id: q.Node = q.Compare(q.Field(("objectId",), "String"), "eq", object_id)
            if narrowed is not None:  # the trigger may narrow the get, never widen it to another object
                by_id = q.And((by_id, parse_where(narrowed, schema, self.schemas.cached)))
            where = reads.authorize_read(ctx, reads.ReadNode(schema, by_id, keys=_read_keys(keys, include),
                                                             operation="get"), self.schemas.cached)
            spec = q.FindSpec(where, limit=1, read_names=access.read_names(ctx.principal), shape=self.wire_shape)
            objects = await work.session.find(schema, spec)
            if not objects:
                raise ObjectNotFound("Object not found.")
            results = await self._present(work, ctx, schema, objects, keys, exclude_keys, include)
        if find_triggers and self.triggers.handles("afterFind", class_name):  # Parse runs it on a get too
            results = await self.triggers.after_find(ctx, class_name, results)
            if not results:
                raise ObjectNotFound("Object not found.")
        return results[0]

    async def find(
        self, ctx: RequestContext, class_name: str, options: FindOptions, unit: Unit | None = None
    ) -> FindResult:
        check_class_name(class_name)
        if self.triggers.handles("beforeFind", class_name):
            request = FindRequest(ctx, class_name, options.where, {})
            await self.triggers.before_find(request)
            options = replace(options, where=request.where, **request.options)
        async with self.db.unit(unit, read_only=unit is None) as work:
            schema = await self.schemas.get(work, class_name)
            redirected = None
            if options.redirect_class_name_for_key is not None and schema is not None:
                redirected = _relation_target(schema, options.redirect_class_name_for_key)
                schema = await self.schemas.get(work, redirected)
            if schema is None:  # nothing to find, but the rules by name and a bad query still come first (as Parse)
                access.require_class(ctx.principal, new_schema(redirected or class_name), "find")
                parse_where(options.where, new_schema(class_name), self.schemas.cached)
                return FindResult([], 0 if options.count else None, redirected)
            operation: access.Operation = "count" if options.count and options.limit == 0 else "find"
            order = parse_order(options.order, schema)
            node = reads.ReadNode(schema, parse_where(options.where, schema, self.schemas.cached), order,
                                  _read_keys(options.keys, options.include), operation)
            where = reads.authorize_read(ctx, node, self.schemas.cached)
            names = access.read_names(ctx.principal)
            count = await work.session.count(schema, where, names) if options.count else None
            limit = _bounded(options.limit, "limit", self.max_limit)
            objects: list[dict[str, Any]] = []
            if limit:
                spec = q.FindSpec(
                    where, order, limit, _bounded(options.skip, "skip", None),
                    _columns(options.keys), names, self.wire_shape,
                )
                objects = await work.session.find(schema, spec)
            results = await self._present(work, ctx, schema, objects, options.keys, options.exclude_keys,
                                          options.include)
        if self.triggers.handles("afterFind", schema.class_name):
            results = await self.triggers.after_find(ctx, schema.class_name, results)
        return FindResult(results, count, redirected)

    async def count(self, ctx: RequestContext, class_name: str, where: Any = None) -> int:
        result = await self.find(ctx, class_name, FindOptions(where=where, limit=0, count=True))
        return result.count or 0

    async def count_by(
        self, ctx: RequestContext, class_name: str, where: Any, fields: tuple[str, ...],
        bucket: str | None = None, edges: tuple[Any, ...] = (),
    ) -> list[tuple[tuple[Any, ...], int]]:
        """Matching objects counted per distinct value of ``fields`` (and per range of ``bucket`` between
        ``edges``, see ``GroupSpec``), in one grouped query: what ``count`` answers for each group, under the
        same checks (class ``count`` permission, each field read as a query reads it, the reader's ACL)."""
        check_class_name(class_name)
        if self.triggers.handles("beforeFind", class_name):  # a trigger narrows a grouped count as a count
            request = FindRequest(ctx, class_name, where, {})
            await self.triggers.before_find(request)
            where = request.where
        async with self.db.unit(read_only=True) as work:
            schema = await self.schemas.get(work, class_name)
            if schema is None:
                access.require_class(ctx.principal, new_schema(class_name), "count")
                parse_where(where, new_schema(class_name), self.schemas.cached)
                return []
            grouped = (*fields, bucket) if bucket is not None else fields
            node = reads.ReadNode(schema, parse_where(where, schema, self.schemas.cached), operation="count",
                                  selected=grouped)
            spec = q.GroupSpec(reads.authorize_read(ctx, node, self.schemas.cached), fields, bucket, edges,
                               access.read_names(ctx.principal))
            return await work.session.count_by(schema, spec)

    async def _present(
        self, unit: Unit, ctx: RequestContext, schema: ClassSchema, objects: list[dict[str, Any]],
        keys: Any, exclude_keys: Any, include: Any,
    ) -> list[dict[str, Any]]:
        """The objects a find or get answers: storage rendered them (``wire_shape``, between slices of rows a
        large result gives way to other requests); here protected fields, includes, keys and excludeKeys."""
        objects = _visible(ctx, schema, objects)
        await Includer(self, unit, ctx).resolve(schema, objects, include, parse_keys(keys))
        wanted, excluded = parse_keys(keys), parse_keys(exclude_keys)
        if wanted is None and excluded is None:
            return objects
        return [project(obj, wanted, excluded) for obj in objects]

    async def fetch_many(
        self, unit: Unit, ctx: RequestContext, class_name: str, object_ids: list[str]
    ) -> tuple[ClassSchema | None, list[Row]]:
        """Readable rows of ``class_name`` among ``object_ids`` (for include)."""
        schema = await self.schemas.get(unit, class_name)
        if schema is None or not object_ids:
            return schema, []
        if not reads.may_read_class(ctx, schema, "get"):  # Parse leaves such pointers unresolved
            return schema, []
        by_ids = q.In(q.Field(("objectId",), "String"), tuple(object_ids))
        where = reads.narrow(ctx, schema, by_ids, "get", self.schemas.cached)
        spec = q.FindSpec(where, limit=len(object_ids), read_names=access.read_names(ctx.principal))
        rows = await unit.session.find(schema, spec)
        return schema, _visible(ctx, schema, rows)


def _visible(ctx: RequestContext, schema: ClassSchema, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects (or rows) without the fields protected from any reader (delegation: both readers')."""
    for reader in reads.readers(ctx):
        if access.may_protect(reader, schema):  # asked once per read, not per object
            objects = [access.strip_protected(reader, schema, obj) for obj in objects]
    return objects


def _decode_body(data: Mapping[str, Any], *, creating: bool) -> tuple[dict[str, Any], object]:
    """Body -> (field values/ops, ACL or a sentinel); names and values checked."""
    if not isinstance(data, Mapping):
        raise InvalidJSON("The request body must be a JSON object.")
    values: dict[str, Any] = {}
    acl: object = _NO_ACL
    for name, raw in data.items():
        if name == "ACL":
            acl = raw
            continue
        if name in RESERVED:
            if name == "objectId" and creating:
                raise InvalidKeyName("objectId is an invalid field name.")
            continue
        nested.check_key(name, creating, RESERVED)
        values[name] = wire.decode(raw)
    return values, acl


_NO_ACL = object()


def _perms_columns(acl: object) -> Row:
    if acl is _NO_ACL:
        return {}
    if acl is None:
        return {"_rperm": None, "_wperm": None}
    read, write = access.acl_to_perms(acl)
    return {"_rperm": read, "_wperm": write}


def _echo(values: Mapping[str, Any], row: Row, changed: set[str]) -> dict[str, Any]:
    """The fields a save answers with: results of ops, and what a beforeSave trigger changed (as Parse)."""
    return {
        name: wire.encode(row.get(name))
        for name, value in values.items()
        if ops.echoes(value) or (name in changed and not ops.is_relation_op(value))
    }


def _changed_by_trigger(sent: Mapping[str, Any], saved: Mapping[str, Any]) -> set[str]:
    if sent is saved:
        return set()
    return {name for name, value in saved.items() if name not in sent or sent[name] != value}


def _bounded(value: Any, what: str, maximum: int | None) -> int:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuery(f"{what} must be a whole number.")
    if value == -1 and what == "limit":  # the SDKs send -1 for "no limit given"
        value = 100
    if value < 0:
        raise InvalidQuery(f"{what} must not be negative.")
    if value > jsontext.I64_MAX:  # no engine takes it (SQLite answered 500)
        raise InvalidQuery(f"{what} is too large.")
    return int(min(value, maximum) if maximum is not None else value)


def _read_keys(keys: Any, include: Any) -> tuple[str, ...]:
    """The names a read projects or includes (checked against the call's field limits)."""
    names = parse_keys(keys) or []
    if isinstance(include, str):
        names += [part.strip() for part in include.split(",") if part.strip() and part.strip() != "*"]
    return tuple(names)


def _columns(keys: Any) -> tuple[str, ...] | None:
    names = parse_keys(keys)
    return None if names is None else tuple({name.split(".")[0] for name in names})


def _relation_target(schema: ClassSchema, key: object) -> str:
    spec = schema.fields.get(key) if isinstance(key, str) else None
    if spec is None or spec.type != "Relation" or not spec.target_class:
        raise InvalidQuery(f"redirectClassNameForKey: {str(key)[:64]} is not a relation of {schema.class_name}.")
    return spec.target_class
