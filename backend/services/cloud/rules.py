"""Parse's cloud ``validator`` option (pure): requireUser, requireMaster and per-field rules.

A field rule is a type (``str``, ``int``, ``"Number"``...) or a dict with
``type``, ``required``, ``options``, ``default``, ``constant`` and ``error``;
the messages are parse-server's (triggers.js builtInTriggerValidator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.errors import ValidationFailed

_TYPES: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: isinstance(v, str),
    "Number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Array": lambda v: isinstance(v, list),
    "Object": lambda v: isinstance(v, dict) and "__type" not in v,
    "Date": lambda v: isinstance(v, dict) and v.get("__type") == "Date",
    "Pointer": lambda v: isinstance(v, dict) and v.get("__type") == "Pointer",
    "File": lambda v: isinstance(v, dict) and v.get("__type") == "File",
    "GeoPoint": lambda v: isinstance(v, dict) and v.get("__type") == "GeoPoint",
}
_PY_TYPES: dict[type, str] = {str: "String", int: "Number", float: "Number", bool: "Boolean", list: "Array",
                              dict: "Object"}


def type_name(rule: object) -> str | None:
    """The Parse type name a rule's ``type`` stands for (None: any type)."""
    if rule is None:
        return None
    if isinstance(rule, type):
        return _PY_TYPES.get(rule, rule.__name__)
    return str(rule)


_JS_TYPES = {"Date": "object", "Pointer": "object", "File": "object", "GeoPoint": "object"}


def check_caller(*, has_user: bool, is_master: bool, require_user: bool, require_master: bool) -> None:
    if require_master and not is_master:
        raise ValidationFailed("Validation failed. Master key is required to complete this request.")
    if require_user and not has_user and not is_master:
        raise ValidationFailed("Validation failed. Please login to continue.")


def check_fields(data: dict[str, Any], fields: Mapping[str, Any] | list[str],
                 original: Mapping[str, Any] | None = None) -> None:
    """Check (and fill defaults into / restore constants of) ``data`` against the rules; raises 142."""
    rules = {key: {"required": True} for key in fields} if isinstance(fields, list) else fields
    for key, raw in rules.items():
        rule: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {"type": raw}
        if rule.get("constant") and original is not None and key in original:
            data[key] = original[key]  # Parse reverts a constant field on update
        value = data.get(key)
        if value is None and rule.get("default") is not None:
            default = rule["default"]
            data[key] = value = default() if callable(default) else default
        if value is None:
            if rule.get("required"):
                raise ValidationFailed(rule.get("error") or f"Validation failed. Please specify data for {key}.")
            continue
        _check_value(key, value, rule)


def _check_value(key: str, value: Any, rule: Mapping[str, Any]) -> None:
    expected = type_name(rule.get("type"))
    if expected is not None and expected in _TYPES and not _TYPES[expected](value):
        shown = _JS_TYPES.get(expected, expected.lower())  # parse-server names the JavaScript typeof
        raise ValidationFailed(rule.get("error") or f"Validation failed. Invalid type for {key}. Expected: {shown}")
    options = rule.get("options")
    if options is None:
        return
    allowed = options(value) if callable(options) else value in options
    if not allowed:
        shown = ", ".join(str(option) for option in options) if not callable(options) else "a valid value"
        raise ValidationFailed(rule.get("error") or f"Validation failed. Invalid option for {key}. Expected: {shown}")
