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
    """What inner layers learn about a request and the access line reports: its principal, its route, its status,
    and the request's id (header and context) and start time, kept for the line."""

    __slots__ = ("header", "principal", "route", "started", "status", "token")

    def __init__(self, rid: str, started: float) -> None:
        self.principal = "none"
        self.route = "unmatched"
        self.status = 500  # what the client sees when the app ends without a response (CatchAll answers 500)
        self.header = (b"x-request-id", rid.encode())
        self.started = started
        self.token = request_id.set(rid)


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


def open_note(scope: Scope, started: float | None = None) -> AccessNote:
    """A request arrives (at ``started``, if it was earlier): its id is chosen and set for the logs of its work."""
    note = scope[NOTE] = AccessNote(_request_id(scope["headers"]), perf_counter() if started is None else started)
    return note


def close_note(scope: Scope, note: AccessNote, observe: Observer | None) -> None:
    """The request is answered: its numbers go to ``observe`` and its one access line is written."""
    elapsed = perf_counter() - note.started
    method, status = scope["method"], note.status
    if observe is not None:
        observe(method, note.route, status, elapsed)
    if log.isEnabledFor(logging.INFO):
        path, ms, principal = scope["path"], elapsed * 1000, note.principal
        fields = {"request_id": request_id.get(), "method": method, "path": path, "status": status,
                  "route": note.route, "duration_ms": round(ms, 2), "principal": principal}
        if not _lines.write(f"{method} {path} {status:d} {ms:.1f}ms {principal}", fields):
            log.info("%s %s %d %.1fms %s", method, path, status, ms, principal, extra=fields)
    request_id.reset(note.token)


class AccessLogMiddleware:
    """Outermost: request id in and out, one access line, and the request's numbers to ``observe``."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note = open_note(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                note.status = message["status"]
                message["headers"] = [*message.get("headers", ()), note.header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            close_note(scope, note, self.observe)


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
