"""A Parse class's schema as storage keeps it: field types, FieldSpec, ClassSchema (pure).

Apart from protocols.py (which re-exports all of it) because the query tree carries a schema
and the protocols carry query trees: with both here, neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FIELD_TYPES = frozenset(
    {"String", "Number", "Boolean", "Date", "Object", "Array", "Pointer", "Relation",
     "File", "GeoPoint", "Polygon", "Bytes", "ACL"}
)
DEFAULT_FIELDS: Mapping[str, str] = {
    "objectId": "String", "createdAt": "Date", "updatedAt": "Date", "ACL": "ACL",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    type: str
    target_class: str | None = None
    required: bool = False
    default: Any = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.target_class:
            out["targetClass"] = self.target_class
        if self.required:
            out["required"] = True
        if self.default is not None:
            out["defaultValue"] = self.default
        return out


ID_INDEX: Mapping[str, Mapping[str, int]] = {"_id_": {"_id": 1}}
"""Parse's name for the objectId key among a class's indexes: the primary key, so storage builds nothing for it."""


@dataclass(frozen=True, slots=True)
class ClassSchema:
    """A Parse class: its fields (defaults included), permissions and indexes."""

    class_name: str
    fields: Mapping[str, FieldSpec]
    class_level_permissions: Mapping[str, Any] = field(default_factory=dict)
    indexes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def with_fields(self, added: Mapping[str, FieldSpec]) -> ClassSchema:
        return replace(self, fields={**self.fields, **added})

    def without_fields(self, names: set[str]) -> ClassSchema:
        return replace(self, fields={k: v for k, v in self.fields.items() if k not in names})

    def column_fields(self) -> dict[str, FieldSpec]:
        """Fields stored as columns: everything but relations and the ACL pseudo-field."""
        return {name: spec for name, spec in self.fields.items() if spec.type not in ("Relation", "ACL")}
