"""A committed change as the hub fans it out, and its bytes on a pub/sub channel.

Rows travel as Parse JSON (``wire.encode``) plus the ACL arrays; server-only
columns (password hashes, tokens) never leave the process. The class schema
travels with the change, so an instance that has not seen a new field yet
still matches and renders the object right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from backend import wire
from backend.services.data.render import HIDDEN_FIELDS
from backend.services.shared.events import ObjectEvent
from backend.storage.protocols import ClassSchema, FieldSpec, Row

_KEPT_PRIVATE = ("_rperm", "_wperm")


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # create | update | delete
    schema: ClassSchema
    before: Row | None
    after: Row | None
    committed_at: float  # time.time() when the writer announced it: the start of delivery latency

    @property
    def class_name(self) -> str:
        return self.schema.class_name


def from_event(event: ObjectEvent) -> Change:
    return Change(event.kind, event.schema, _public(event.before), _public(event.after), time.time())


def _public(row: Row | None) -> Row | None:
    if row is None:
        return None
    return {name: value for name, value in row.items()
            if name not in HIDDEN_FIELDS and (not name.startswith("_") or name in _KEPT_PRIVATE)}


def encode(change: Change) -> bytes:
    schema = change.schema
    return orjson.dumps({
        "k": change.kind,
        "c": schema.class_name,
        "f": {name: spec.to_wire() for name, spec in schema.fields.items()},
        "p": dict(schema.class_level_permissions),
        "b": _encode_row(change.before),
        "a": _encode_row(change.after),
        "t": change.committed_at,
    })


def decode(payload: bytes | str) -> Change:
    """Bytes from a channel -> Change; ValueError/ParseError on a malformed message."""
    data: dict[str, Any] = orjson.loads(payload)
    fields = {name: FieldSpec(spec["type"], spec.get("targetClass"), bool(spec.get("required", False)),
                              spec.get("defaultValue")) for name, spec in data["f"].items()}
    schema = ClassSchema(str(data["c"]), fields, data.get("p") or {})
    return Change(str(data["k"]), schema, _decode_row(data["b"]), _decode_row(data["a"]), float(data["t"]))


def _encode_row(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {name: (value if name in _KEPT_PRIVATE else wire.encode(value)) for name, value in row.items()}


def _decode_row(row: dict[str, Any] | None) -> Row | None:
    if row is None:
        return None
    return {name: (value if name in _KEPT_PRIVATE else wire.decode(value)) for name, value in row.items()}
