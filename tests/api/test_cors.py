"""CORS: a request without ``Origin`` takes a short way through, with the headers Starlette's middleware gives."""

from __future__ import annotations

import httpx
import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from backend.api.cors import CORS

Headers = list[tuple[bytes, bytes]]
OPTIONS = {"allow_methods": ["*"], "allow_headers": ["*"], "expose_headers": ["X-Parse-Job-Status-Id"]}


def _answering(headers: Headers) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})
    return app


async def _sent(middleware: object, request_headers: Headers, method: str = "GET") -> list[Message]:
    scope = {"type": "http", "method": method, "path": "/parse/classes/A", "headers": request_headers,
             "query_string": b""}
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await middleware(scope, receive, send)  # type: ignore[operator]
    return messages


@pytest.mark.parametrize("origins", [["*"], ["https://app.example"]])
@pytest.mark.parametrize("response_headers", [
    [(b"content-type", b"application/json")],
    [(b"vary", b"Accept-Encoding"), (b"content-type", b"application/json")],
    [(b"vary", b"Accept"), (b"x-a", b"1"), (b"vary", b"Cookie"), (b"x-b", b"2")],
    [(b"Vary", b"Raw-Case")],  # not the lower-case name ASGI servers expect: Starlette leaves it alone too
])
@pytest.mark.parametrize("request_headers", [
    [(b"host", b"a")],
    [(b"origin", b"https://app.example")],
    [(b"origin", b"https://evil.example")],
    [(b"origin", b"https://app.example"), (b"access-control-request-method", b"PUT")],
])
async def test_every_answer_is_the_one_starlettes_middleware_gives(
        origins: list[str], response_headers: Headers, request_headers: Headers) -> None:
    method = "OPTIONS" if len(request_headers) == 2 else "GET"
    inner = _answering(response_headers)
    ours = await _sent(CORS(inner, allow_origins=origins, **OPTIONS), request_headers, method)  # type: ignore[arg-type]
    theirs = await _sent(CORSMiddleware(inner, allow_origins=origins, **OPTIONS), request_headers, method)  # type: ignore[arg-type]
    assert ours == theirs


async def test_ballast_answers_vary_origin_without_origin_and_allows_an_origin(
        client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    plain = await client.get("/classes/Note", headers=headers)
    assert plain.status_code == 200 and plain.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in plain.headers
    browser = await client.get("/classes/Note", headers={**headers, "Origin": "https://app.example"})
    assert browser.headers["access-control-allow-origin"] == "*"
    preflight = await client.options("/classes/Note", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "PUT"})
    assert preflight.status_code == 200 and "PUT" in preflight.headers["access-control-allow-methods"]
