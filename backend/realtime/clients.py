"""One connected LiveQuery client: who it is, its subscriptions, and its bounded outbox.

The hub never awaits a socket: it drops frames into the client's outbox and a
writer task sends them. A client that lets its outbox fill (a slow reader) is
cut off with an error instead of slowing delivery to everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from backend.context import Principal
from backend.realtime.matching import Matcher
from backend.realtime.permissions import ReadOp

log = logging.getLogger("ballast.realtime")

Send = Callable[[bytes], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
RequestId = int | float

SLOW_CLIENT_CODE = 155  # Parse.Error.REQUEST_LIMIT_EXCEEDED
POLICY_CLOSE = 1008


@dataclass(eq=False)
class Subscription:
    """One ``subscribe`` of one client: its matcher, identity and view options."""

    client: Client
    request_id: RequestId
    matcher: Matcher
    principal: Principal
    token: str | None
    op: ReadOp
    keys: tuple[str, ...] | None = None
    watch: tuple[str, ...] | None = None
    include: str | None = None
    ident: bytes = b""  # '"clientId":...,"requestId":N' spliced into every event frame

    def __post_init__(self) -> None:
        head: dict[str, object] = {"clientId": self.client.id}
        if self.client.installation_id is not None:
            head["installationId"] = self.client.installation_id
        head["requestId"] = self.request_id
        self.ident = orjson.dumps(head)[1:-1]


@dataclass(eq=False)
class Client:
    send: Send
    close: Close
    queue_size: int
    principal: Principal
    token: str | None = None
    installation_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    subscriptions: dict[RequestId, Subscription] = field(default_factory=dict)
    on_overflow: Callable[[Client], None] | None = None
    closed: bool = False
    _outbox: asyncio.Queue[bytes | None] = field(init=False)
    _writer: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._outbox = asyncio.Queue(self.queue_size)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"livequery-writer-{self.id[:8]}")

    def push(self, frame: bytes) -> bool:
        """Queue a frame; False when the client is gone or too slow (it is then disconnected)."""
        if self.closed:
            return False
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.closed = True
            if self.on_overflow is not None:
                self.on_overflow(self)
            asyncio.get_running_loop().create_task(self._cut_off())
            return False
        return True

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            if frame is None:
                return
            try:
                await self.send(frame)
            except Exception:  # the socket is gone; the reader side notices and cleans up
                self.closed = True
                return

    async def _cut_off(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        message = orjson.dumps({
            "op": "error", "error": "Client too slow: its event queue overflowed; events were dropped.",
            "code": SLOW_CLIENT_CODE, "reconnect": True, "requestId": None,
        })
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send(message), 2)
        with contextlib.suppress(Exception):
            await self.close(POLICY_CLOSE, "client too slow")

    async def stop(self) -> None:
        """Flush what is queued (briefly), then stop the writer."""
        self.closed = True
        if self._writer is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        try:
            await asyncio.wait_for(self._writer, 2)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()
        except Exception:
            log.debug("writer of %s ended with an error", self.id)
