"""Dotted keys in updates (``"stats.visits": {"__op": "Increment"}``): ops inside an Object field (pure).

Parse Server lets an update name a key inside an Object field at any depth; every operator
(plain set, Delete, Increment, Add, AddUnique, Remove) then applies to that inner key and
the rest of the field stays as it was. Here the update's dotted keys are gathered per
top-level field and applied to the locked row's current value, so the write stores the
whole new field: the same on every engine, inside the update's transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from backend import wire
from backend.errors import IncorrectType, InvalidKeyName
from backend.services.data import ops
from backend.services.data.schemas import check_field_name

MAX_DEPTH = 32
Path = tuple[str, ...]
Nested = dict[str, list[tuple[Path, Any]]]  # top-level field -> [(inner path, value or op)]


def is_dotted(name: object) -> bool:
    return isinstance(name, str) and "." in name


def split(name: str) -> tuple[str, Path]:
    """``"a.b.c"`` -> ``("a", ("b", "c"))``; inner keys must be non-empty and not operators."""
    top, *inner = name.split(".")
    if not inner or len(inner) > MAX_DEPTH or not all(map(_inner_key, inner)):
        raise InvalidKeyName(f"Invalid field name: {name[:64]}.")
    return top, tuple(inner)


def _inner_key(key: str) -> bool:
    return bool(key) and len(key) <= 256 and "$" not in key and "\x00" not in key  # wire's rule for keys


def check_key(name: str, creating: bool, reserved: frozenset[str]) -> None:
    """A field name, or on update a dotted key into an Object field (never into ACL or ``reserved``)."""
    if creating or not is_dotted(name):
        check_field_name(name)
        return
    top = split(name)[0]
    if top == "ACL" or top in reserved:
        raise InvalidKeyName(f"Invalid field name: {name[:64]}.")
    check_field_name(top)


def gather(values: Mapping[str, Any]) -> tuple[dict[str, Any], Nested]:
    """The plain values, and the dotted ones grouped by their top-level field."""
    plain: dict[str, Any] = {}
    nested: Nested = {}
    for name, value in values.items():
        if is_dotted(name):
            top, path = split(name)
            nested.setdefault(top, []).append((path, value))
        else:
            plain[name] = value
    clash = set(plain) & set(nested)
    if clash:
        raise InvalidKeyName(f"Field {sorted(clash)[0]} is set whole and by a dotted key in one update.")
    return plain, nested


def apply(top: str, current: Any, changes: Sequence[tuple[Path, Any]]) -> dict[str, Any]:
    """The new value of Object field ``top`` after the dotted changes (``current`` is left as it was)."""
    if current is not None and not isinstance(current, dict):
        raise IncorrectType(f"Cannot set a key inside {top}: it is not an object.")
    result: dict[str, Any] = copy.deepcopy(current) if current is not None else {}
    for path, op in changes:
        _apply_one(result, top, path, op)
    return result


def _apply_one(root: dict[str, Any], top: str, path: Path, op: Any) -> None:
    node = root
    for depth, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None:
            if isinstance(op, wire.Delete):
                return  # nothing there to delete
            child = node[key] = {}
        if not isinstance(child, dict):
            dotted = ".".join((top, *path[: depth + 1]))
            raise IncorrectType(f"Cannot set a key inside {dotted}: it is not an object.")
        node = child
    leaf = path[-1]
    if isinstance(op, wire.Delete):
        node.pop(leaf, None)
    elif ops.is_relation_op(op):
        raise IncorrectType("A relation cannot live inside an Object field.")
    else:
        node[leaf] = ops.apply(".".join((top, *path)), node.get(leaf), op)
