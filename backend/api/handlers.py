"""The one error handler: every ParseError, and every surprise, as Parse JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.responses import ParseJSON
from backend.errors import InvalidJSON, ObjectNotFound, ParseError, headers_for, status_for

log = logging.getLogger("ballast.api")


def render_error(error: ParseError) -> ParseJSON:
    return ParseJSON(error.to_wire(), status_code=status_for(error), headers=headers_for(error) or None)


async def _parse_error(_: Request, error: Exception) -> ParseJSON:
    assert isinstance(error, ParseError)
    return render_error(error)


async def _validation_error(_: Request, error: Exception) -> ParseJSON:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    return render_error(InvalidJSON(f"Invalid {where or 'request'}: {first.get('msg', 'malformed input')}."))


async def _http_error(_: Request, error: Exception) -> ParseJSON:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return ParseJSON({"code": ObjectNotFound.code, "error": "Not found."}, status_code=404)
    if error.status_code == 405:
        return ParseJSON({"code": 108, "error": "Method not allowed."}, status_code=405)
    return ParseJSON({"code": 1, "error": str(error.detail)}, status_code=error.status_code)


class CatchAllMiddleware:
    """Outermost: an unexpected exception is logged (with its cause) and answered 1 / 500, never leaked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            response = unexpected(scope)
            if not started:
                await response(scope, receive, send)


def unexpected(scope: Scope) -> ParseJSON:
    """The answer to an exception no handler knows, logged with its cause (call it inside ``except``)."""
    log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
    return ParseJSON({"code": 1, "error": "Internal server error."}, status_code=500)


async def handled(request: Request, error: Exception) -> ParseJSON:
    """What the app's exception handlers answer to ``error`` (looked up by its class, most specific first, as
    Starlette's ExceptionMiddleware does); an error none of them knows is ``unexpected``."""
    handlers = request.app.exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            response: ParseJSON = await handlers[kind](request, error)
            return response
    return unexpected(request.scope)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ParseError, _parse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
