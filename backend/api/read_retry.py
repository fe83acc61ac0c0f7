"""ASGI middleware: a read the database dropped under it is run once more, so its client sees no error.

A pooled connection can die between two requests without the driver having noticed yet (PostgreSQL killed the
backend a moment ago, or restarted): the first statement on it fails, storage invalidates it and answers
``DatabaseUnavailable`` (503, Retry-After, see ``backend/storage/sqlfaults.py``). A GET or HEAD reads only, so
running it again on a fresh connection is safe; its failed answer is held back and replaced. Writes are never
repeated here: their client gets the retryable 503 and decides (the idempotency options make that safe).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

READS = ("GET", "HEAD")


class ReadRetryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READS:
            await self.app(scope, receive, send)
            return
        dropped = False

        async def hold_back_unavailable(message: Message) -> None:
            nonlocal dropped
            if message["type"] == "http.response.start" and unavailable(message["status"], message.get("headers", ())):
                dropped = True
            if not dropped:
                await send(message)

        await self.app(scope, receive, hold_back_unavailable)
        if dropped:
            await self.app(scope, receive, send)


def unavailable(status: int, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """The answer of DatabaseUnavailable: the only 503 that carries Retry-After."""
    return status == 503 and any(name.lower() == b"retry-after" for name, _ in headers)
