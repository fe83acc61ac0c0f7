"""One access log line per HTTP request, with a request id (``X-Request-Id`` in and out) and the principal kind.

The outer middleware gives each request an id (the caller's ``X-Request-Id`` when it is a sane token,
else a new one), returns it on every response, and after the response logs one line: method, path
(never the query string, which may carry where-clauses or reset tokens), status, duration, the kind of
principal that was resolved (never a key or a token) and the route template. The inner one, placed
right above the router, sees the scope the router fills (middlewares between may copy the scope) and
hands the matched route's template back through a note both share.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, MutableMapping
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.logs import DirectLines, request_id

log = logging.getLogger("ballast.access")
_lines = DirectLines(log)  # the same line without a LogRecord, when the logging set-up allows (backend/logs.py)
NOTE = "ballast.access"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:@+=/-]{1,128}")
Observer = Callable[[str, str, int, float], None]  # method, route template, status, seconds


class AccessNote:
    """What inner layers learn about a request and the access line reports: its principal and its route."""

    __slots__ = ("principal", "route")

    def __init__(self) -> None:
        self.principal = "none"
        self.route = "unmatched"


def note_principal(scope: MutableMapping[str, Any], kind: str) -> None:
    """Record who the request acts as (a kind such as ``user`` or ``agent``: never a credential)."""
    note = scope.get(NOTE)
    if note is not None:
        note.principal = kind


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _SANE_ID.fullmatch(value):
            return value.decode()
    return os.urandom(16).hex()  # 32 hex digits, as uuid4().hex, at a fifth of its cost


class AccessLogMiddleware:
    """Outermost: request id in and out, one access line, and the request's numbers to ``observe``."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope["headers"])
        note = scope[NOTE] = AccessNote()
        header = (b"x-request-id", rid.encode())
        status = 500  # what the client sees when the app ends without a response (CatchAll answers 500)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id.set(rid)
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = perf_counter() - started
            self._done(scope, note, status, elapsed)
            request_id.reset(token)

    def _done(self, scope: Scope, note: AccessNote, status: int, elapsed: float) -> None:
        method = scope["method"]
        if self.observe is not None:
            self.observe(method, note.route, status, elapsed)
        if log.isEnabledFor(logging.INFO):
            path, ms, principal = scope["path"], elapsed * 1000, note.principal
            fields = {"request_id": request_id.get(), "method": method, "path": path, "status": status,
                      "route": note.route, "duration_ms": round(ms, 2), "principal": principal}
            if not _lines.write(f"{method} {path} {status:d} {ms:.1f}ms {principal}", fields):
                log.info("%s %s %d %.1fms %s", method, path, status, ms, principal, extra=fields)


def route_template(scope: Scope) -> str | None:
    """The matched route's template, rebuilt from the path and its parameters (bounded label values)."""
    if "endpoint" not in scope:
        return None
    path: str = scope["path"]
    names: dict[str, str] = {}
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if "/" in text and path.endswith(text):  # a {name:path} parameter: the whole tail
            path = path[: len(path) - len(text)] + "{" + name + "}"
        else:
            names[text] = "{" + name + "}"
    return "/".join(names.get(segment, segment) for segment in path.split("/")) if names else path


class RouteNoteMiddleware:
    """Innermost: after the router ran, the matched route's template goes to the access note."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            note = scope.get(NOTE)
            if note is not None:
                note.route = route_template(scope) or note.route
