"""The LiveQuery wire protocol: frame validation and the frames the server sends (pure).

Client ops (``connect``, ``subscribe``, ``update``, ``unsubscribe``) are checked
the way parse-server's ``RequestSchema`` checks them, with the same messages
(tv4's wording, which the JS SDK matches on: 'Additional properties not
allowed'). Server frames have Parse's shapes: ``connected``, ``subscribed``,
``unsubscribed``, the five events, and ``error`` with ``code``, ``error``,
``reconnect`` and ``requestId``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from backend import jsontext
from backend.errors import ParseError
from backend.operators import json_kind

OPS = ("connect", "subscribe", "unsubscribe", "update")
EVENTS = ("create", "enter", "update", "leave", "delete")

# parse-server's LiveQuery codes (ParseLiveQueryServer.js): 1 bad request, 2 no client/subscription,
# 3 unknown op, 4 bad keys; the rest are Parse.Error codes (101, 119, 209...)
BAD_REQUEST = 1
NOT_CONNECTED = 2
UNKNOWN_OP = 3
BAD_KEYS = 4

_CONNECT_FIELDS = ("applicationId", "javascriptKey", "masterKey", "clientKey", "windowsKey", "restAPIKey",
                   "sessionToken", "installationId")
_QUERY_FIELDS = ("className", "where", "keys", "watch", "include")


@dataclass(frozen=True)
class FrameError(Exception):
    """A frame the server refuses; sent back as an ``error`` frame."""

    code: int
    message: str
    reconnect: bool = True
    request_id: int | float | None = None

    def __str__(self) -> str:
        return self.message


def decode(raw: str | bytes) -> dict[str, Any]:
    """Text frame -> a validated request dict; FrameError on anything off."""
    try:
        request = jsontext.parse(raw)
    except jsontext.JSONDecodeError as error:
        raise FrameError(BAD_REQUEST, "Invalid JSON: the frame is not a JSON object.") from error
    except ParseError as error:  # a NUL in a string
        raise FrameError(BAD_REQUEST, f"Invalid JSON: {error.message}") from error
    if not isinstance(request, dict):
        raise FrameError(BAD_REQUEST, f"Invalid type: {json_kind(request)} (expected object)")
    op = request.get("op")
    if op is None:
        raise FrameError(BAD_REQUEST, "Missing required property: op")
    if not isinstance(op, str):
        raise FrameError(BAD_REQUEST, f"Invalid type: {json_kind(op)} (expected string)")
    if op not in OPS:
        raise FrameError(BAD_REQUEST, f"No enum match for: {orjson.dumps(op).decode()[:64]}")
    _VALIDATORS[op](request)
    return request


def _only(request: dict[str, Any], allowed: tuple[str, ...]) -> None:
    if any(key not in allowed for key in request):
        raise FrameError(BAD_REQUEST, "Additional properties not allowed")


def _typed(request: dict[str, Any], name: str, expected: str, *, required: bool = False) -> None:
    if name not in request:
        if required:
            raise FrameError(BAD_REQUEST, f"Missing required property: {name}")
        return
    actual = json_kind(request[name])
    if actual != expected:
        raise FrameError(BAD_REQUEST, f"Invalid type: {actual} (expected {expected})")


def _check_connect(request: dict[str, Any]) -> None:
    _only(request, ("op", *_CONNECT_FIELDS))
    _typed(request, "applicationId", "string", required=True)
    for name in _CONNECT_FIELDS[1:]:
        _typed(request, name, "string")


def _check_subscribe(request: dict[str, Any]) -> None:
    _only(request, ("op", "requestId", "query", "sessionToken"))
    _typed(request, "requestId", "number", required=True)
    _typed(request, "query", "object", required=True)
    _typed(request, "sessionToken", "string")
    query = request["query"]
    _only(query, _QUERY_FIELDS)
    _typed(query, "className", "string", required=True)
    _typed(query, "where", "object", required=True)
    for name in ("keys", "watch", "include"):
        _string_list(query, name)


def _string_list(query: dict[str, Any], name: str) -> None:
    """keys/watch/include: a non-empty array of distinct strings (a comma string is accepted too)."""
    value = query.get(name)
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise FrameError(BAD_REQUEST, f"Invalid type: {json_kind(value)} (expected array)")
    if not value:
        raise FrameError(BAD_REQUEST, "Array is too short (0), minimum 1")
    if not all(isinstance(item, str) for item in value):
        raise FrameError(BAD_REQUEST, "Invalid type: array items must be strings (expected string)")
    if len(set(value)) != len(value):
        raise FrameError(BAD_REQUEST, "Array items are not unique")


def _check_unsubscribe(request: dict[str, Any]) -> None:
    _only(request, ("op", "requestId"))
    _typed(request, "requestId", "number", required=True)


_VALIDATORS = {
    "connect": _check_connect,
    "subscribe": _check_subscribe,
    "update": _check_subscribe,
    "unsubscribe": _check_unsubscribe,
}


# --- server frames -------------------------------------------------------------------


def error_frame(error: FrameError) -> bytes:
    return orjson.dumps({
        "op": "error", "error": error.message, "code": error.code, "reconnect": error.reconnect,
        "requestId": error.request_id,
    })


def reply_frame(op: str, client_id: str, installation_id: str | None, request_id: int | float | None = None) -> bytes:
    """``connected`` / ``subscribed`` / ``unsubscribed``."""
    frame: dict[str, Any] = {"op": op, "clientId": client_id}
    if installation_id is not None:
        frame["installationId"] = installation_id
    if request_id is not None:
        frame["requestId"] = request_id
    return orjson.dumps(frame)


def event_frame(
    op: str, client_id: str, installation_id: str | None, request_id: int | float,
    obj: dict[str, Any], original: dict[str, Any] | None,
) -> bytes:
    frame: dict[str, Any] = {"op": op, "clientId": client_id}
    if installation_id is not None:
        frame["installationId"] = installation_id
    frame["requestId"] = request_id
    frame["object"] = obj
    if original is not None:
        frame["original"] = original
    return orjson.dumps(frame)


def names(value: object) -> list[str] | None:
    """keys/watch/include as a list (Parse accepts an array or a comma-separated string)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()] or None
    return [str(item) for item in value] if isinstance(value, list) else None
