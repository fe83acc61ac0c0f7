"""Stored rows -> the JSON a client sees: keys, excludeKeys, hidden fields (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backend import wire
from backend.services.shared.access import perms_to_acl
from backend.storage.protocols import ClassSchema, FieldSpec, Row

FileUrl = Callable[[str], str]
ALWAYS_SHOWN = ("objectId", "createdAt", "updatedAt", "ACL")
# never leave the server, whoever asks (password hashes live under other names too)
HIDDEN_FIELDS = frozenset({"password", "_hashed_password", "_password_history"})


def render(schema: ClassSchema, row: Row, file_url: FileUrl) -> dict[str, Any]:
    """A whole object as Parse JSON (dates of the three default fields as plain ISO strings)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or name[0] == "_" or name in HIDDEN_FIELDS:
            continue
        kind = type(value)
        if kind is str or kind is int or kind is bool:  # most values: JSON as they are (exact types, no subclasses)
            out[name] = value
        elif name in ("createdAt", "updatedAt"):
            out[name] = wire.format_iso(value)
        elif kind is wire.File:
            out[name] = wire.encode(wire.File(value.name, file_url(value.name)))
        else:
            out[name] = wire.encode(value)
    acl = perms_to_acl(row.get("_rperm"), row.get("_wperm"))
    if acl is not None:
        out["ACL"] = acl
    for name, spec in schema.fields.items():
        if spec.type == "Relation" and spec.target_class:
            out[name] = {"__type": "Relation", "className": spec.target_class}
    return out


class WireShape:
    """``render`` done in storage's decoding pass (see ``querytree.RowShape``): each column's converter is chosen
    once from its field's type, since storage hands out a column's values with that type (``from_column``):
    the two default dates as plain ISO strings, a File with its URL, other non-JSON values through
    ``wire.encode``, strings, booleans and numbers as they are. ``tests/services/test_wire_shape.py`` holds
    the objects equal to ``render``'s."""

    def __init__(self, file_url: FileUrl) -> None:
        self._file_url = file_url

    def shown(self, name: str) -> bool:
        return name[0] != "_" and name not in HIDDEN_FIELDS

    def converter(self, name: str, spec: FieldSpec) -> Callable[[Any], Any] | None:
        if spec.type in _AS_STORED:
            return None
        if spec.type == "Date" and name in _PLAIN_DATES:
            return wire.format_iso
        if spec.type == "File":
            return self._file
        return wire.encode

    def finisher(self, schema: ClassSchema) -> Callable[[dict[str, Any], Any, Any], None]:
        relations = tuple((name, spec.target_class) for name, spec in schema.fields.items()
                          if spec.type == "Relation" and spec.target_class)

        def finish(out: dict[str, Any], rperm: Any, wperm: Any) -> None:
            if rperm is not None or wperm is not None:
                out["ACL"] = perms_to_acl(rperm, wperm)
            for name, target in relations:
                out[name] = {"__type": "Relation", "className": target}

        return finish

    def _file(self, value: wire.File) -> Any:
        return wire.encode(wire.File(value.name, self._file_url(value.name)))


_AS_STORED = frozenset({"String", "Boolean", "Number"})  # str, bool, and int or float (whole doubles made ints)
_PLAIN_DATES = frozenset({"createdAt", "updatedAt"})


def project(obj: dict[str, Any], keys: Iterable[str] | None, exclude: Iterable[str] | None) -> dict[str, Any]:
    """Apply ``keys`` then ``excludeKeys`` (both may be dotted into Object fields)."""
    if keys is not None:
        obj = _only(obj, [key.split(".") for key in keys])
    for key in exclude or ():
        _drop(obj, key.split("."))
    return obj


def _only(obj: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    kept: dict[str, Any] = {name: obj[name] for name in ALWAYS_SHOWN if name in obj}
    nested: dict[str, list[list[str]]] = {}
    for path in paths:
        if path[0] not in obj:
            continue
        if len(path) == 1:
            kept[path[0]] = obj[path[0]]
        else:
            nested.setdefault(path[0], []).append(path[1:])
    for name, rest in nested.items():
        if name in kept:
            continue
        value = obj[name]
        if isinstance(value, dict) and value.get("__type") in (None, "Object"):
            sub = _only_plain(value, rest) if value.get("__type") is None else _only(value, rest)
            kept[name] = sub | ({"__type": "Object", "className": value["className"]} if "className" in value else {})
        else:
            kept[name] = value
    return kept


def _only_plain(value: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        if path[0] in value:
            inner = value[path[0]]
            out[path[0]] = _only_plain(inner, [path[1:]]) if len(path) > 1 and isinstance(inner, dict) else inner
    return out


def _drop(obj: dict[str, Any], path: list[str]) -> None:
    target: Any = obj
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target.pop(path[-1], None)
