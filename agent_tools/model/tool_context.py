"""What a running tool holds: its ToolContext, and the record of what it read, changed and set off.

Tools write only through the context's ``create``/``update``/``delete`` and
declare side effects through ``effect``, so the gateway can count a write's
blast radius, preview it before anything is kept, and bind an approval to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from agent_tools.model.redaction import check_class, read_limits, redact
from agent_tools.model.registry import Tool
from backend.context import Principal, RequestContext
from backend.errors import ObjectNotFound, OperationForbidden
from backend.services.data.objects import FindOptions, FindResult, ObjectService
from backend.services.shared import access
from backend.services.shared.units import Unit

if TYPE_CHECKING:
    from backend.services.wiring import Services


class Shaping(Protocol):
    """What a context asks of its run's shaper (agent_tools.pipeline.shaping.Shaper, a layer above)."""

    intent: Any  # the run's RunIntent (agent_tools.stores.intents), or None

    def objects(self, base: UnitObjects) -> UnitObjects: ...

    def shown(self, class_name: str, obj: dict[str, Any]) -> dict[str, Any]: ...


class Mode(StrEnum):
    LIVE = "live"  # do it; stop as soon as the cap is passed
    PREVIEW = "preview"  # do it inside a transaction that is rolled back, noting before/after
    EXECUTE = "execute"  # an approved preview: do it for real, noting before/after to prove it is the same


class NeedsApproval(Exception):
    """A live write found it needs a human (e.g. a high-risk cloud function); its unit rolls back."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


class OverCap(NeedsApproval):
    """A live write passed its blast-radius cap; its transaction rolls back and a preview is made."""

    def __init__(self) -> None:
        super().__init__("blast_radius", "over the cap")


class Rollback(Exception):
    """Ends a preview: everything the tool did is undone."""


@dataclass
class Change:
    class_name: str
    object_id: str | None
    op: str  # create | update | delete
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"className": self.class_name, "objectId": self.object_id, "op": self.op,
                "before": self.before, "after": self.after}

    def ref(self) -> dict[str, Any]:
        """What the audit keeps of a change: the object and its updatedAt after it."""
        updated = (self.after or {}).get("updatedAt") or (self.before or {}).get("updatedAt")
        return {"className": self.class_name, "objectId": self.object_id, "op": self.op, "updatedAt": updated}


def acl_allows(acl: object, principal: Principal, permission: str) -> bool:
    """An object's wire ACL grants ``permission`` (read/write) to the principal (no ACL: public)."""
    if not isinstance(acl, dict):
        return True
    return any(isinstance(acl.get(name), dict) and acl[name].get(permission) for name in principal.acl_names())


class UnitObjects:
    """ObjectService bound to the call's unit: a read tool's every statement runs in its read-only transaction."""

    def __init__(self, objects: ObjectService, unit: Unit) -> None:
        self._objects = objects
        self._unit = unit

    async def get(self, ctx: RequestContext, class_name: str, object_id: str, **options: Any) -> dict[str, Any]:
        return await self._objects.get(ctx, class_name, object_id, unit=self._unit, **options)

    async def find(self, ctx: RequestContext, class_name: str, options: FindOptions) -> FindResult:
        return await self._objects.find(ctx, class_name, options, unit=self._unit)

    async def create(self, ctx: RequestContext, class_name: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._objects.create(ctx, class_name, data, unit=self._unit)

    async def update(self, ctx: RequestContext, class_name: str, object_id: str,
                     data: dict[str, Any]) -> dict[str, Any]:
        return await self._objects.update(ctx, class_name, object_id, data, unit=self._unit)

    async def delete(self, ctx: RequestContext, class_name: str, object_id: str) -> None:
        await self._objects.delete(ctx, class_name, object_id, unit=self._unit)


@dataclass
class ToolContext:
    """Handed to every tool: the agent's RequestContext, the services, the unit, and the call's records."""

    request: RequestContext
    services: Services
    unit: Unit
    tool: Tool
    mode: Mode = Mode.LIVE
    jobs: Any = None  # the job service, when there is one
    # delegation: the tool runs as the user, and the agent's own rights narrow what it may see and change
    restrict: Principal | None = None
    shaper: Shaping | None = None  # the run's intent, untrusted fields, provenance (agent_tools.pipeline.shaping)
    refs: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # every read the tool makes, at any depth (sub-queries, include, count), is narrowed in services
        intent = self.shaper.intent if self.shaper is not None else None
        rows = {name: intent.rows(name) for name in intent.spec.rows} if intent is not None else {}
        limits = read_limits(self.tool.scope, self.restrict, rows)
        self.request = dataclasses.replace(self.request, limits=limits)

    @property
    def objects(self) -> UnitObjects:
        """The one way a tool reads (and, through create/update/delete below, writes) app data."""
        base = UnitObjects(self.services.objects, self.unit)
        return self.shaper.objects(base) if self.shaper is not None else base

    @property
    def dry_run(self) -> bool:
        return self.mode == Mode.PREVIEW

    @property
    def capturing(self) -> bool:
        return self.mode != Mode.LIVE

    def visible(self, class_name: str, obj: dict[str, Any]) -> bool:
        """Whether the agent itself may see ``obj`` (always, unless it acts for a user)."""
        if self.restrict is None:
            return True
        schema = self.services.schemas.cached(class_name)
        try:
            if schema is not None:
                access.require_class(self.restrict, schema, "get")
        except OperationForbidden:
            return False
        return acl_allows(obj.get("ACL"), self.restrict, "read")

    async def _check_write(self, class_name: str, operation: access.Operation, object_id: str | None) -> None:
        """Acting for a user, the write must also be one the agent itself may do."""
        if self.restrict is None:
            return
        schema = await self.services.schemas.get(self.unit, class_name)
        if schema is not None:
            access.require_class(self.restrict, schema, operation)
        if object_id is not None:
            current = await self.objects.get(self.request, class_name, object_id)
            if not acl_allows(current.get("ACL"), self.restrict, "write"):
                raise ObjectNotFound("Object not found.")

    def show(self, class_name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as this tool may return it; its reference goes to the audit."""
        check_class(class_name, self.tool.scope)
        if not self.visible(class_name, obj):
            raise ObjectNotFound("Object not found.")
        self.refs.append({"className": class_name, "objectId": obj.get("objectId"),
                          "updatedAt": obj.get("updatedAt")})
        shown = redact(obj, class_name, self.tool.scope)
        return self.shaper.shown(class_name, shown) if self.shaper is not None else shown

    async def create(self, class_name: str, data: dict[str, Any]) -> dict[str, Any]:
        check_class(class_name, self.tool.scope)
        await self._check_write(class_name, "create", None)
        result = await self.objects.create(self.request, class_name, data)
        after = None
        if self.capturing:
            after = await self._current(class_name, result["objectId"])
        self._record(Change(class_name, result["objectId"], "create", None, after or dict(result)))
        return result

    async def update(self, class_name: str, object_id: str, data: dict[str, Any]) -> dict[str, Any]:
        check_class(class_name, self.tool.scope)
        await self._check_write(class_name, "update", object_id)
        before = await self._current(class_name, object_id) if self.capturing else None
        result = await self.objects.update(self.request, class_name, object_id, data)
        after = await self._current(class_name, object_id) if self.capturing else dict(result)
        self._record(Change(class_name, object_id, "update", before, after))
        return result

    async def delete(self, class_name: str, object_id: str) -> None:
        check_class(class_name, self.tool.scope)
        await self._check_write(class_name, "delete", object_id)
        before = await self._current(class_name, object_id) if self.capturing else None
        await self.objects.delete(self.request, class_name, object_id)
        self._record(Change(class_name, object_id, "delete", before, None))

    def effect(self, kind: str, detail: dict[str, Any], run: Callable[[], Awaitable[None] | None]) -> bool:
        """A side effect (a job started, a file deleted...): held back in a preview, after commit otherwise."""
        self.effects.append({"kind": kind, **detail})
        if self.dry_run:
            return False
        self.unit.after_commit(run)
        return True

    async def _current(self, class_name: str, object_id: str) -> dict[str, Any]:
        obj = await self.objects.get(self.request, class_name, object_id)
        return redact(obj, class_name, self.tool.scope)

    def _record(self, change: Change) -> None:
        self.changes.append(change)
        if self.mode == Mode.LIVE and len(self.changes) > self.tool.cap:
            raise OverCap()

    def side_effect_counts(self) -> dict[str, int]:
        """What the call would set off: one LiveQuery event per change, plus declared effects."""
        counts: dict[str, int] = {"liveQueryEvents": len(self.changes)}
        for item in self.effects:
            counts[item["kind"]] = counts.get(item["kind"], 0) + 1
        return counts


def dump_output(output: BaseModel) -> dict[str, Any]:
    """A tool's output as the JSON its caller gets: the gateway's answer and an approval's preview agree on it."""
    return output.model_dump(mode="json", by_alias=True, exclude_none=True)
