"""ASGI middleware: a write repeated with the same ``X-Parse-Request-Id`` gets its first answer back, not run again.

It sits inside the tunnel middleware, so the JS SDK's tunnelled POSTs are seen
with their real method (a tunnelled query is a GET and is never stored). The
first answer of a POST, PUT or DELETE (status below 500: a server error is
worth retrying) is kept for ``idempotency_ttl`` seconds by IdempotencyService.
The stored key is a hash of the request id with the method, path and the
caller's keys, so another caller reusing an id can never read someone else's
answer; the answer is kept with the digest of the request body and given back
only to a repeat with that same body (another body under that id: 159), so an id
alone never buys a login's session token; requests with the same key in flight at once in this process wait for
each other, so only one of them runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.auth import first_values
from backend.services.data.idempotency import IdempotencyService

WRITES = frozenset({"POST", "PUT", "DELETE"})
IDENTITY_HEADERS = (b"x-parse-application-id", b"x-parse-master-key", b"x-parse-session-token",
                    b"x-parse-javascript-key", b"x-parse-rest-api-key", b"x-parse-client-key")
MAX_STORED_BODY = 4 * 1024 * 1024
REPLAY_HEADER = (b"x-parse-idempotent-replay", b"true")
SEAL = b"ballast-request-sha256:"  # a kept answer starts with the digest of the body it answered
DUPLICATE = b'{"code":159,"error":"Duplicate request"}'  # parse-server's answer to a repeat
log = logging.getLogger("ballast.idempotency")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, service: Callable[[], IdempotencyService], mount_path: str) -> None:
        self.app = app
        self.service = service  # resolved per call: the app's services are built before its middleware runs
        self.mount_path = mount_path.rstrip("/") + "/"
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        service = self.service()
        if (request_id is None or scope["type"] != "http" or scope["method"] not in WRITES
                or not scope["path"].startswith(self.mount_path) or not service.enabled
                or not service.applies(scope["path"][len(self.mount_path):])):
            await self.app(scope, receive, send)
            return
        key = _key(scope, request_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                stored = await service.recall(key)
                if stored is not None:
                    # given back only to the very request that earned it: another body (a login with another
                    # password, a write of other fields) under the same id gets Parse's 159, never that answer
                    answer = _opened(stored.body, await _digest(receive))
                    if service.refuses or answer is None:
                        await _replay(send, 400, DUPLICATE, replayed=False)
                    else:
                        await _replay(send, stored.status, answer)
                    return
                await self._run_and_keep(scope, receive, send, service, key)
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, service: IdempotencyService,
                            key: str) -> None:
        """Run the request, holding its answer back until it is stored (a retry must find it)."""
        messages: list[Message] = []
        request = _Hashing(receive)

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, request.receive, keep)
        await request.drain()  # the digest is of the whole body, even if the handler stopped reading early
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        if start is not None and start["status"] < 500 and len(body) <= MAX_STORED_BODY:
            try:
                await service.remember(key, start["status"], _sealed(request.digest.hexdigest(), body))
            except Exception:  # the write is done: its answer must reach the client even if keeping it failed
                log.exception("could not keep the answer of an idempotent request")
        for message in messages:
            await send(message)


class _Hashing:
    """The request's receive, hashing the body as the handler reads it (nothing is buffered here)."""

    def __init__(self, receive: Receive) -> None:
        self._receive, self.digest, self.done = receive, hashlib.sha256(), False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.digest.update(message.get("body", b""))
            self.done = not message.get("more_body", False)
        else:  # a disconnect: there is no more body
            self.done = True
        return message

    async def drain(self) -> None:
        while not self.done:
            await self.receive()


async def _digest(receive: Receive) -> str:
    request = _Hashing(receive)
    await request.drain()
    return request.digest.hexdigest()


def _sealed(digest: str, answer: bytes) -> bytes:
    """What is stored: the digest of the request body that earned the answer, then the answer."""
    return SEAL + digest.encode() + b"\n" + answer


def _opened(stored: bytes, digest: str) -> bytes | None:
    """The stored answer if it was earned by a body with this digest; None otherwise (or if unsealed)."""
    prefix = SEAL + digest.encode() + b"\n"
    return stored[len(prefix):] if stored.startswith(prefix) else None


def _request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-parse-request-id":
            text = value.decode("latin-1").strip()
            return text or None
    return None


def _key(scope: Scope, request_id: str) -> str:
    digest = hashlib.sha256()
    for part in (request_id, scope["method"], scope["path"]):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    headers = first_values(scope.get("headers", ()))  # as the auth layer reads them
    for name in IDENTITY_HEADERS:
        digest.update(headers.get(name, b"") + b"\0")
    return digest.hexdigest()


async def _replay(send: Send, status: int, body: bytes, replayed: bool = True) -> None:
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [REPLAY_HEADER] if replayed else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
