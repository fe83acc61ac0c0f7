"""ASGI middleware: body size limit, and the JS SDK's POST tunnelling undone.

Browsers avoid CORS pre-flight by POSTing ``text/plain`` JSON that carries the
real method (``_method``) and the keys (``_ApplicationId``, ``_SessionToken``
...) in the body. This turns such a request back into what it means, so the
routes below see ordinary methods, headers and query strings.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api import memory
from backend.api.responses import ParseJSON
from backend.errors import InvalidJSON, ObjectTooLarge, ParseCode, status_for

BODY_TO_HEADER = {
    "_ApplicationId": b"x-parse-application-id",
    "_JavaScriptKey": b"x-parse-javascript-key",
    "_ClientKey": b"x-parse-client-key",
    "_RESTAPIKey": b"x-parse-rest-api-key",
    "_MasterKey": b"x-parse-master-key",
    "_SessionToken": b"x-parse-session-token",
    "_InstallationId": b"x-parse-installation-id",
    "_ClientVersion": b"x-parse-client-version",
    "_RevocableSession": b"x-parse-revocable-session",
}
METHODS = {"GET", "POST", "PUT", "DELETE"}


class TunnelMiddleware:
    def __init__(self, app: ASGIApp, max_body: int, body_timeout: float = 60.0) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "DELETE"):
            await self.app(scope, receive, send)
            return
        if scope.get("ballast.streamed_upload"):  # file uploads stream; the files route enforces the size
            await self.app(scope, receive, send)
            return
        body = await body_or_refusal(scope, receive, self.max_body, self.body_timeout)
        if not isinstance(body, bytes):
            if body is not None:
                await body(scope, receive, send)
            return
        size = len(body)  # as received: a tunnelled GET's body moves into the query string
        if scope["method"] == "POST" and body[:1] == b"{" and _is_text_or_json(scope):
            try:
                scope, body = _untunnel(scope, body)
            except orjson.JSONEncodeError:  # orjson reads 1,024 levels but writes only 254
                error = InvalidJSON("The request is nested too deeply.")
                await ParseJSON(error.to_wire(), status_code=status_for(error))(scope, receive, send)
                return
        await self.app(scope, replay(body), send)
        del body
        memory.after_request(size)


async def body_or_refusal(scope: Scope, receive: Receive, max_body: int, timeout: float) -> bytes | ParseJSON | None:
    """The whole request body; or the answer that refuses it (over ``max_body``, or not all there within
    ``timeout``); or None when the client left before sending it all (there is no one to answer)."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        return _too_large(max_body)
    try:
        async with asyncio.timeout(timeout):
            body = await read_body(receive, max_body)
    except ClientGone:
        return None
    except TimeoutError:  # a body that never finishes must not hold a connection and its buffer for ever
        return _timed_out(timeout)
    return _too_large(max_body) if body is None else body


def _too_large(limit: int) -> ParseJSON:
    error = ObjectTooLarge(f"The request body exceeds the {limit // (1024 * 1024)} MB limit.")
    return ParseJSON(error.to_wire(), status_code=413)


def _timed_out(seconds: float) -> ParseJSON:
    # parse-server (express) answers an unfinished request 408; Parse's code for a timeout is 124
    error = {"code": ParseCode.TIMEOUT, "error": f"The request body did not arrive within {seconds:g} s."}
    return ParseJSON(error, status_code=408)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_text_or_json(scope: Scope) -> bool:
    kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return kind in ("", "text/plain", "application/json")


def may_tunnel(body: bytes) -> bool:
    """Whether the body can hold a tunnel key, without parsing it (a plain create's body then is parsed once, by
    its route): a key that decodes to ``_method`` or ``_ApplicationId`` is written out or uses a ``\\u`` escape
    (JSON's other escapes never make a letter or an underscore)."""
    return b"_method" in body or b"_ApplicationId" in body or b"\\u" in body


def _untunnel(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
    if not may_tunnel(body):
        return scope, body
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return scope, body
    if not isinstance(payload, dict) or not ("_method" in payload or "_ApplicationId" in payload):
        return scope, body
    method = payload.pop("_method", "POST")
    method = method.upper() if isinstance(method, str) and method.upper() in METHODS else "POST"
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
    present = {key for key, _ in headers}
    for field, header in BODY_TO_HEADER.items():
        value = payload.pop(field, None)
        if isinstance(value, str) and header not in present:
            headers.append((header, value.encode("latin-1", "replace")))
    context = payload.pop("_context", None)
    if context is not None and b"x-parse-cloud-context" not in present:
        headers.append((b"x-parse-cloud-context", orjson.dumps(context)))
    scope = dict(scope)
    scope["method"] = method
    if method == "GET":  # the URL's own query stays (Parse Dashboard sends scriptlog?level=...&n=100 this way)
        from_url = scope.get("query_string", b"").decode("latin-1")
        from_body = _query_string(payload)
        scope["query_string"] = "&".join(part for part in (from_url, from_body) if part).encode()
        new_body = b""
    else:
        new_body = orjson.dumps(payload)
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(new_body)).encode()))
    scope["headers"] = headers
    return scope, new_body


def _query_string(params: dict[str, Any]) -> str:
    flat = {key: value if isinstance(value, str) else orjson.dumps(value).decode() for key, value in params.items()}
    return urlencode(flat)


class ClientGone(Exception):
    """The client disconnected before its whole body arrived: there is nothing to answer."""


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past ``limit``."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            return None
    return bytes(body)


def replay(body: bytes) -> Receive:
    """A ``receive`` that hands the app an already-read body once."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
