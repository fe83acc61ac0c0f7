"""The three busiest object routes, served in front of the app's layers.

Create (``POST /classes/C``), get (``GET /classes/C/ID``) and find (``GET /classes/C``) carry nearly all of an
app's traffic. Through the app, each passes FastAPI's and Starlette's own layers (the server-error, telemetry and
exception middlewares, the exit stack, the router's match, ``request_response``'s wrapper) and each of our
middlewares, most of them wrapping ``send``. This dispatcher sits outermost and serves exactly those shapes
itself, doing for them what the layers do, with the layers' own functions: the request id, access line and
metrics (access_log), the body limit and deadline (tunnel), CORS' ``Vary`` (cors), the app's exception handlers
and the catch-all (handlers), the read retry (read_retry), and then the very endpoints the router would call
(classes), which resolve the caller, apply the rate limits and call the services. Anything else, and anything
unusual for these routes (an ``Origin``, an idempotency key, a tunnelled body, a root path, another method),
goes to the app as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api import memory
from backend.api.access_log import AccessNote, Observer, close_note, open_note, route_template
from backend.api.classes import create_object, find_objects, get_object
from backend.api.cors import with_vary_origin
from backend.api.handlers import handled, unexpected
from backend.api.read_retry import unavailable
from backend.api.tunnel import body_or_refusal, may_tunnel, replay

Endpoint = Callable[[Request], Awaitable[Response]]
Match = tuple[Endpoint, dict[str, str]]
ON_CLASS: dict[str, Endpoint] = {"POST": create_object, "GET": find_objects}
ON_OBJECT: dict[str, Endpoint] = {"GET": get_object}
# headers whose layers would answer differently: CORS with an Origin, idempotency for a write with a request id
HANDED_OVER = {"GET": frozenset({b"origin"}), "POST": frozenset({b"origin", b"x-parse-request-id"})}


class LeanObjectRoutes:
    """Outermost: create, get and find of objects without the app's layers; everything else to the app."""

    def __init__(self, app: ASGIApp, mount_paths: Sequence[str], max_body: int, body_timeout: float,
                 observe: Observer | None = None, side_port: int | None = None) -> None:
        self.app = app
        self.side_port = side_port  # BALLAST_METRICS_PORT: the app refuses object routes there (metrics.SideListener)
        self.prefixes = tuple(f"{path}/classes/" for path in mount_paths)  # the order of the app's route table
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self._match(scope) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        body = await self._body(scope, receive) if scope["method"] == "POST" else b""  # (a GET's is never read)
        if isinstance(body, bytes) and may_tunnel(body):  # the tunnel turns it into the request it means
            await self.app(scope, replay(body), send)
            return
        note = open_note(scope, started)
        try:
            if isinstance(body, bytes):
                await self._serve(scope, replay(body), send, match, note)
            elif body is not None:  # the body's refusal (None: the client left before sending it all, no one to answer)
                await self._send(scope, send, body, note)
        finally:
            close_note(scope, note, self.observe)
        if isinstance(body, bytes):
            memory.after_request(len(body))

    async def _body(self, scope: Scope, receive: Receive) -> bytes | Response | None:
        """The request body as the tunnel reads it, within the same size and time limits, or its refusal."""
        try:
            return await body_or_refusal(scope, receive, self.max_body, self.body_timeout)
        except Exception:  # what the catch-all answers to a failure no layer expects
            return unexpected(scope)

    def _match(self, scope: Scope) -> Match | None:
        """The endpoint and path parameters the router would pick, for the shapes served here."""
        refused = HANDED_OVER.get(scope["method"])
        if refused is None or scope.get("root_path") or (scope.get("server") or ("", 0))[1] == self.side_port:
            return None
        path: str = scope["path"]
        prefix = next((prefix for prefix in self.prefixes if path.startswith(prefix)), None)
        if prefix is None:
            return None
        parts = path[len(prefix):].split("/")
        if not all(parts) or len(parts) > 2:  # the routes' {name} matches one non-empty segment
            return None
        endpoint = (ON_CLASS if len(parts) == 1 else ON_OBJECT).get(scope["method"])
        if endpoint is None or any(name in refused for name, _ in scope["headers"]):
            return None
        params = {"class_name": parts[0]} if len(parts) == 1 else {"class_name": parts[0], "object_id": parts[1]}
        return endpoint, params

    async def _serve(self, scope: Scope, receive: Receive, send: Send, match: Match, note: AccessNote) -> None:
        """What the router and the layers inside the tunnel do: the route's note, the endpoint, its answer."""
        scope["endpoint"], scope["path_params"] = match
        note.route = route_template(scope) or note.route
        try:
            response = await _answer(scope, receive, match[0])
        except Exception:  # what the catch-all answers to an error no handler knows
            response = unexpected(scope)
        await self._send(scope, send, response, note)

    @staticmethod
    async def _send(scope: Scope, send: Send, response: Response, note: AccessNote) -> None:
        """The response, with what CORS adds without an ``Origin`` (``Vary``) and the request id."""
        note.status = response.status_code
        headers = with_vary_origin(response.raw_headers)
        headers.append(note.header)
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        except Exception:  # the answer had begun: the catch-all only logs it
            unexpected(scope)


async def _answer(scope: Scope, receive: Receive, endpoint: Endpoint) -> Response:
    """The endpoint's response, its errors rendered by the app's handlers; a read the database dropped runs once
    more (as ReadRetryMiddleware does)."""
    response = await _run(endpoint, Request(scope, receive))
    if scope["method"] == "GET" and unavailable(response.status_code, response.raw_headers):
        response = await _run(endpoint, Request(scope, receive))
    return response


async def _run(endpoint: Endpoint, request: Request) -> Response:
    try:
        return await endpoint(request)
    except Exception as error:
        response = await handled(request, error)
        error.__traceback__ = None  # as Starlette does: a reused exception would keep every traceback
        return response
