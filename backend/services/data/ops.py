"""Applying Parse update operators to a stored value (pure)."""

from __future__ import annotations

from typing import Any

from backend import operators, wire
from backend.errors import IncorrectType


def apply(field: str, current: Any, op: Any) -> Any:
    """The new value of ``field`` after ``op``; plain values replace, ops combine."""
    if isinstance(op, wire.Delete):
        return None
    if isinstance(op, wire.Increment):
        if current is None:
            return op.amount
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise IncorrectType(f"Cannot increment {field}: it is not a number.")
        return current + op.amount
    if isinstance(op, wire.Add | wire.AddUnique | wire.Remove):
        array = _array(field, current)
        if isinstance(op, wire.Add):
            return array + list(op.objects)
        if isinstance(op, wire.AddUnique):
            present = {operators.json_key(wire.encode(item)) for item in array}
            added = []
            for item in op.objects:
                key = operators.json_key(wire.encode(item))
                if key not in present:
                    present.add(key)
                    added.append(item)
            return array + added
        removed = {operators.json_key(wire.encode(item)) for item in op.objects}
        return [item for item in array if operators.json_key(wire.encode(item)) not in removed]
    return op


def _array(field: str, current: Any) -> list[Any]:
    if current is None:
        return []
    if not isinstance(current, list):
        raise IncorrectType(f"Cannot add to or remove from {field}: it is not an array.")
    return list(current)


def is_relation_op(value: Any) -> bool:
    return isinstance(value, wire.AddRelation | wire.RemoveRelation | wire.RelationBatch)


def relation_changes(value: Any) -> tuple[list[wire.Pointer], list[wire.Pointer]]:
    """(added, removed) pointers of a relation op."""
    if isinstance(value, wire.AddRelation):
        return list(value.pointers), []
    if isinstance(value, wire.RemoveRelation):
        return [], list(value.pointers)
    if isinstance(value, wire.RelationBatch):
        return list(value.add), list(value.remove)
    return [], []


def echoes(value: Any) -> bool:
    """Whether a save's response repeats the field's new value (ops do, as parse-server's)."""
    return isinstance(value, wire.Increment | wire.Add | wire.AddUnique | wire.Remove)
