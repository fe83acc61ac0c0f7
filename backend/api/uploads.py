"""ASGI middleware for file uploads: stream raw bodies, and undo the JS SDK's JSON form.

A raw upload (``POST /files/<name>`` with the keys in headers) is marked so
the tunnel middleware passes it through unbuffered: the route streams it to
storage. Without an application id header, the body is the SDK's JSON form
(``{"base64", "_ContentType", "fileData", "_ApplicationId", ...}``), as
parse-server's ``fileViaJSON``: it is read (bounded), and replayed as the raw
bytes with the keys turned back into headers.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.responses import ParseJSON
from backend.api.tunnel import BODY_TO_HEADER, ClientGone, read_body, replay

STREAMED = "ballast.streamed_upload"  # scope key the tunnel middleware honours


class UploadMiddleware:
    def __init__(self, app: ASGIApp, files_prefix: str, max_body: int) -> None:
        self.app = app
        self.files_prefix = files_prefix
        self.max_json = max_body * 4 // 3 + 64 * 1024  # base64 grows the file by a third

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not path.startswith(self.files_prefix) or path == self.files_prefix:
            await self.app(scope, receive, send)
            return
        scope = {**scope, STREAMED: True}
        if any(key == b"x-parse-application-id" for key, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_json)
        except ClientGone:
            return
        if body is None:
            too_large = {"code": 130, "error": "File size exceeds maximum allowed."}
            await ParseJSON(too_large, status_code=400)(scope, receive, send)
            return
        scope, body = _from_json(scope, body)
        await self.app(scope, replay(body), send)


def _from_json(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return scope, body  # not the JSON form: the route refuses it (no application id)
    if not isinstance(payload, dict) or not isinstance(payload.get("base64"), str):
        return scope, body
    try:
        data = base64.b64decode(payload["base64"], validate=True)
    except (binascii.Error, ValueError):
        data = b""
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
    for field, header in BODY_TO_HEADER.items():
        value = payload.get(field)
        if isinstance(value, str):
            headers.append((header, value.encode("latin-1", "replace")))
    content_type = payload.get("_ContentType")
    if isinstance(content_type, str) and content_type:
        headers.append((b"content-type", content_type.encode("latin-1", "replace")))
    headers.append((b"content-length", str(len(data)).encode()))
    return {**scope, "headers": headers}, data
