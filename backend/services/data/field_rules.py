"""A class's ``required`` fields and ``defaultValue``s, applied to a write as parse-server does (pure).

On create every field of the class is looked at: a missing (or Delete) value takes the field's
default; a field that is still missing, null or "" while ``required`` is refused with 142. On
update only the fields the write names are looked at, and no default is applied there.
"""

from __future__ import annotations

from typing import Any

from backend import wire
from backend.errors import ValidationFailed
from backend.storage.protocols import ClassSchema

_MISSING = object()


def apply(schema: ClassSchema, values: dict[str, Any], creating: bool) -> set[str]:
    """Fill defaults into ``values`` (create) and refuse missing required fields; answers the defaulted names."""
    defaulted: set[str] = set()
    names = schema.fields if creating else list(values)
    for name in names:
        spec = schema.fields.get(name)
        if spec is None:
            continue
        value = values.get(name, _MISSING)
        if not (value is _MISSING or value is None or value == "" or isinstance(value, wire.Delete)):
            continue
        if creating and spec.default is not None and (value is _MISSING or isinstance(value, wire.Delete)):
            values[name] = wire.decode(spec.default)
            defaulted.add(name)
        elif spec.required:
            raise ValidationFailed(f"{name} is required")
    return defaulted
