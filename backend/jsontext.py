"""JSON text -> values, with numbers as Parse clients know them (pure).

JSON numbers are doubles to every Parse client. orjson already reads an integer
beyond 64 bits as a double, but keeps 2**63 .. 2**64-1 as ints, which neither
SQLite nor PostgreSQL can bind; and PostgreSQL's jsonb hands back a stored
``1e30`` as thirty digits, which orjson then cannot write (a poisoned row: every
later read of its class failed). ``loads`` turns every integer outside the signed 64-bit range into a
double, at every edge: request bodies and parameters, LiveQuery frames, and
what the database adapters read back.

``parse`` is ``loads`` for what a client sends: it also refuses a NUL character
in any string or key, at any depth (PostgreSQL cannot store one in jsonb or
text: a NUL in a schema default, a CLP or a config key was a 500 there).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from backend.errors import InvalidKeyName, InvalidValue

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
# an integer outside the signed 64-bit range has at least 19 digits: text without such a run needs no walk
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")
JSONDecodeError = orjson.JSONDecodeError


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    value = orjson.loads(raw)
    text = raw if isinstance(raw, str | bytes) else bytes(raw)
    found = _LONG_DIGITS.search(text) if isinstance(text, str) else _LONG_DIGITS_BYTES.search(text)
    return doubles(value) if found else value


def parse(raw: bytes | bytearray | memoryview | str) -> Any:
    """A client's JSON text -> value: ``loads``; a NUL anywhere is InvalidKeyName (in a key) or InvalidValue."""
    value = loads(raw)
    text = raw if isinstance(raw, str | bytes) else bytes(raw)
    if (r"\u0000" in text) if isinstance(text, str) else (rb"\u0000" in text):
        _refuse_nul(value)
    return value


def _refuse_nul(value: Any) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            raise InvalidValue("Strings may not contain NUL characters.")
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                raise InvalidKeyName("Keys may not contain NUL characters.")
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def doubles(value: Any) -> Any:
    """The value with every integer outside 64 bits made a double, in place (iterative: any depth)."""
    if _too_big(value):
        return float(value)
    pending = [value] if isinstance(value, dict | list) else []
    while pending:
        container = pending.pop()
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in list(items):
            if _too_big(item):
                container[key] = float(item)
            elif isinstance(item, dict | list):
                pending.append(item)
    return value


def _too_big(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not I64_MIN <= value <= I64_MAX
