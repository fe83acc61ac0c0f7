"""Intents: task-shaped slices of an agent's rights, and the per-class field policy (untrusted, sensitive).

An intent names the tools, classes, fields and rows a run may see, and how many
distinct objects (and sensitive field values) it may be shown. A run token binds
one intent and its parameters (e.g. the customer) to one run. Intents and field
policies are master-only Parse classes written through ObjectService.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_tools.stores.classes import MASTER_ONLY_CLP, SYSTEM, Records
from backend.errors import InvalidValue, ObjectNotFound
from backend.services.shared.units import Unit

INTENT = "_AgentIntent"
FIELD_POLICY = "_FieldPolicy"
PROVENANCE = "_Provenance"
MY_CLASSES = (INTENT, FIELD_POLICY, PROVENANCE)
CACHE_SECONDS = 1.0
PROVENANCE_KNOWN = 100_000  # provenance row ids remembered per process (an id is 10 characters)
MARKS_KNOWN = 10_000  # objects whose provenance (as of their updatedAt) a process remembers for its readers


class IntentSpec(BaseModel):
    """What an admin declares for an intent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    tools: list[str] = Field(min_length=1)
    classes: list[str] = Field(min_length=1)
    fields: dict[str, list[str]] = Field(default_factory=dict)  # per class; a class not named: every field
    rows: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per class: a where, {"$param": name} holes
    max_objects: int = Field(200, ge=1, le=1_000_000, alias="maxObjects")
    sensitive: dict[str, list[str]] = Field(default_factory=dict)
    max_sensitive: int | None = Field(None, ge=0, alias="maxSensitive")
    ttl: int = Field(900, ge=30, le=24 * 3600)  # seconds a run token lives

    def parameters(self) -> set[str]:
        """The parameter names the row filters need."""
        names: set[str] = set()
        for where in self.rows.values():
            _holes(where, names)
        return names


@dataclass(frozen=True)
class RunIntent:
    """An intent bound to a run's parameters: what the gateway narrows every call to."""

    spec: IntentSpec
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tools(self) -> frozenset[str]:  # read by policy.decide (the intent seam)
        return frozenset(self.spec.tools)

    def rows(self, class_name: str) -> dict[str, Any] | None:
        where = self.spec.rows.get(class_name)
        return None if where is None else _fill(where, self.params)

    def fields(self, class_name: str) -> frozenset[str] | None:
        names = self.spec.fields.get(class_name)
        return None if names is None else frozenset(names)


def _holes(value: Any, names: set[str]) -> None:
    if isinstance(value, dict):
        if set(value) == {"$param"}:
            names.add(str(value["$param"]))
            return
        for item in value.values():
            _holes(item, names)
    elif isinstance(value, list):
        for item in value:
            _holes(item, names)


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$param"}:
            return params[str(value["$param"])]
        return {key: _fill(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, params) for item in value]
    return value


class FieldPolicy(BaseModel):
    """Per class: fields users write (untrusted: shown apart, labelled) and sensitive fields (budgeted)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    untrusted: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    # set by the server once an agent wrote an object of the class: reads then look up provenance
    agent_written: bool = Field(False, alias="agentWritten", exclude=True)


def _invalid(error: ValidationError, what: str) -> InvalidValue:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or what
    return InvalidValue(f"Invalid {what} {where}: {first.get('msg', 'malformed')}.")


class IntentStore:
    """Intents and field policies: define, list, remove; field policies cached briefly for every call."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._ready = False
        self._policies: dict[str, FieldPolicy] = {}
        self._loaded_at = -1e9
        self._marking: set[str] = set()  # classes this process has marked agent-written (or is marking)
        self._provenance: OrderedDict[str, None] = OrderedDict()  # provenance rows known to exist (LRU)
        self._marks: OrderedDict[tuple[str, str], tuple[str, dict[str, Any] | None]] = OrderedDict()

    async def ensure(self) -> None:
        if self._ready:
            return
        schemas = self.records.schemas
        async with self.records.db.unit() as unit:
            for name in MY_CLASSES:
                await schemas.ensure_class(unit, name, {"classLevelPermissions": MASTER_ONLY_CLP})
        async with self.records.db.unit() as unit:  # one provenance row per object (its last agent write), indexed
            await schemas.ensure_unique(unit, PROVENANCE, ("className", "targetId"))
        self._ready = True

    async def define(self, raw: dict[str, Any], author: str) -> IntentSpec:
        """Create or replace an intent."""
        await self.ensure()
        try:
            spec = IntentSpec.model_validate(raw)
        except ValidationError as error:
            raise _invalid(error, "intent") from None
        # stored as JSON text: row filters hold operators ($param, $in...) that Parse refuses as nested keys
        body = {"name": spec.name, "spec": spec.model_dump_json(by_alias=True), "author": author}
        found = await self.records.first(INTENT, {"name": spec.name})
        if found is None:
            await self.records.create(INTENT, body)
        else:
            await self.records.update(INTENT, found["objectId"], body)
        return spec

    async def get(self, name: str, unit: Unit | None = None) -> IntentSpec:
        await self.ensure()
        found = await self.records.first(INTENT, {"name": name}, unit=unit)
        if found is None:
            raise ObjectNotFound(f"No intent {name!r}.")
        return IntentSpec.model_validate_json(found["spec"])

    async def all(self) -> list[IntentSpec]:
        await self.ensure()
        found = await self.records.find(INTENT, order="name", limit=1000)
        return [IntentSpec.model_validate_json(obj["spec"]) for obj in found]

    async def remove(self, name: str) -> None:
        await self.ensure()
        found = await self.records.first(INTENT, {"name": name})
        if found is None:
            raise ObjectNotFound(f"No intent {name!r}.")
        await self.records.objects.delete(SYSTEM, INTENT, found["objectId"])

    async def bind(self, name: str, params: dict[str, Any], unit: Unit | None = None) -> RunIntent:
        """The intent with its parameters (every hole filled), as a run token carries it."""
        spec = await self.get(name, unit)
        missing = sorted(spec.parameters() - set(params))
        if missing:
            raise InvalidValue(f"Intent {name} needs parameter(s) {', '.join(missing)}.")
        return RunIntent(spec, dict(params))

    async def set_fields(self, class_name: str, raw: dict[str, Any]) -> FieldPolicy:
        await self.ensure()
        try:
            policy = FieldPolicy.model_validate(raw)
        except ValidationError as error:
            raise _invalid(error, "field policy") from None
        body = {"className": class_name, **policy.model_dump()}
        found = await self.records.find(FIELD_POLICY, {"className": class_name})
        if not found:
            await self.records.create(FIELD_POLICY, body)
        for row in found:  # every row of the class, so the merged policy is exactly this one
            await self.records.update(FIELD_POLICY, row["objectId"], body)
        self._loaded_at = -1e9
        return policy

    def provenance_known(self, mark_id: str) -> bool:
        """Whether this process saw the provenance row ``mark_id`` committed (they are never removed)."""
        if mark_id in self._provenance:
            self._provenance.move_to_end(mark_id)
            return True
        return False

    def known_mark(self, class_name: str, object_id: str, updated_at: str) -> tuple[bool, dict[str, Any] | None]:
        """The object's provenance as last read here, if the object is still at that ``updatedAt``.

        An agent's write changes the object's ``updatedAt`` in the transaction that moves its provenance, so
        an unchanged ``updatedAt`` means an unchanged provenance (save two writes in one millisecond).
        """
        known = self._marks.get((class_name, object_id))
        if known is None or known[0] != updated_at:
            return False, None
        self._marks.move_to_end((class_name, object_id))
        return True, known[1]

    def remember_mark(self, class_name: str, object_id: str, updated_at: str, mark: dict[str, Any] | None) -> None:
        self._marks[(class_name, object_id)] = (updated_at, mark)
        self._marks.move_to_end((class_name, object_id))
        while len(self._marks) > MARKS_KNOWN:
            self._marks.popitem(last=False)

    def note_provenance(self, mark_id: str) -> None:
        self._provenance[mark_id] = None
        self._provenance.move_to_end(mark_id)
        while len(self._provenance) > PROVENANCE_KNOWN:
            self._provenance.popitem(last=False)

    async def mark_agent_written(self, class_name: str, unit: Unit) -> None:
        """Note (in the write's unit) that agents write this class, so its readers look up provenance.

        One call per class and process does it: concurrent first writes used to each find no row and each
        create one (a duplicate per call), and each then forced every call to reload the policies. Should
        that unit roll back, the next agent write of the class marks it.
        """
        known = self._policies.get(class_name)
        if (known is not None and known.agent_written) or class_name in self._marking:
            return
        self._marking.add(class_name)
        unit.on_rollback(lambda: self._marking.discard(class_name))
        found = await self.records.first(FIELD_POLICY, {"className": class_name}, unit=unit)
        if found is None:
            await self.records.create(FIELD_POLICY, {"className": class_name, "untrusted": [], "sensitive": [],
                                                     "agentWritten": True}, unit=unit)
        elif not found.get("agentWritten"):
            await self.records.update(FIELD_POLICY, found["objectId"], {"agentWritten": True}, unit=unit)

        def reload() -> None:
            self._loaded_at = -1e9

        unit.after_commit(reload)

    async def field_policies(self, unit: Unit | None = None) -> dict[str, FieldPolicy]:
        """Every class's field policy (other instances' changes seen within a second)."""
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:  # classes exist: AgentTools.ready() made them
            found = await self.records.find(FIELD_POLICY, {}, order="createdAt", limit=1000, unit=unit)
            policies: dict[str, FieldPolicy] = {}
            for obj in found:  # a class may hold several rows (racing first writes made one each): merged
                name, seen = str(obj["className"]), policies.get(str(obj["className"]))
                policy = FieldPolicy(untrusted=obj.get("untrusted") or [], sensitive=obj.get("sensitive") or [],
                                     agent_written=bool(obj.get("agentWritten")))
                if seen is not None:
                    policy = FieldPolicy(untrusted=sorted({*seen.untrusted, *policy.untrusted}),
                                         sensitive=sorted({*seen.sensitive, *policy.sensitive}),
                                         agent_written=seen.agent_written or policy.agent_written)
                policies[name] = policy
            self._policies = policies
            self._loaded_at = time.monotonic()
        return self._policies
