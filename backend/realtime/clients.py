"""One connected LiveQuery client: who it is, its subscriptions, and its bounded outbox.

The hub never awaits a socket. A frame is written at once when the socket
can take it: through the server's non-awaiting write when it offers one
(``uvicorn_protocol``), else by starting the ASGI send coroutine eagerly, which
almost always completes without waiting; either way no task, queue or loop
round trip is spent per frame (at thousands of subscribers these were half
the cost of an event).
Only when a send has to wait (the socket's buffer is full) does a task
finish it, and later frames queue behind it in a bounded outbox. A client
that lets its outbox fill, in frames or in bytes (a slow reader), is cut off
with an error (code 155, then close 1008) instead of slowing delivery to
everyone else or pinning the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

import orjson

from backend.context import Principal
from backend.realtime.matching import Matcher
from backend.realtime.permissions import ReadOp

log = logging.getLogger("ballast.realtime")

Send = Callable[[bytes], Coroutine[Any, Any, None]]
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
    send_now: Callable[[bytes], bool] | None = None  # writes at once, or answers False (then ``send`` must wait)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    subscriptions: dict[RequestId, Subscription] = field(default_factory=dict)
    on_overflow: Callable[[Client], None] | None = None
    queue_bytes: int = 8 * 1024 * 1024  # the outbox's bound in bytes: 10,000 frames of large objects were GBs
    closed: bool = False
    _outbox: deque[bytes] = field(default_factory=deque, init=False)
    _outbox_bytes: int = field(default=0, init=False)
    _flusher: asyncio.Task[None] | None = field(default=None, init=False)  # finishes a send that had to wait

    def push(self, frame: bytes) -> bool:
        """Send (or queue) a frame; False when the client is gone or too slow (it is then disconnected)."""
        if self.closed:
            return False
        if self._flusher is None:
            self._send_eagerly(frame)
            return not self.closed
        if len(self._outbox) >= self.queue_size or self._outbox_bytes + len(frame) > self.queue_bytes:
            self.closed = True
            if self.on_overflow is not None:
                self.on_overflow(self)
            asyncio.get_running_loop().create_task(self._cut_off())
            return False
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        return True

    def _send_eagerly(self, frame: bytes) -> None:
        """Write now if the server can; else run the send up to its first wait, and if it has to wait, a task
        finishes it and drains the outbox."""
        if self.send_now is not None:
            try:
                if self.send_now(frame):
                    return
            except Exception:  # the socket is gone; the reader side notices and cleans up
                self.closed = True
                return
        sending = self.send(frame)
        try:
            waiting_on = sending.send(None)
        except StopIteration:
            return  # written: the common case
        except Exception:  # the socket is gone; the reader side notices and cleans up
            self.closed = True
            return
        self._flusher = asyncio.get_running_loop().create_task(self._flush(sending, waiting_on))

    async def _flush(self, sending: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        try:
            await _resume(sending, waiting_on)
            while self._outbox:
                frame = self._outbox.popleft()
                self._outbox_bytes -= len(frame)
                await self.send(frame)
        except Exception:  # the socket is gone; the reader side notices and cleans up
            self.closed = True
        finally:
            self._flusher = None

    async def _cut_off(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        self._drop_outbox()
        message = orjson.dumps({
            "op": "error", "error": "Client too slow: its event queue overflowed; events were dropped.",
            "code": SLOW_CLIENT_CODE, "reconnect": True, "requestId": None,
        })
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send(message), 2)
        with contextlib.suppress(Exception):
            await self.close(POLICY_CLOSE, "client too slow")

    async def stop(self) -> None:
        """Let a waiting send finish and the outbox drain (briefly), then drop the rest."""
        self.closed = True
        flusher = self._flusher
        if flusher is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(flusher), 2)
        except (TimeoutError, asyncio.CancelledError):
            flusher.cancel()
        except Exception:
            log.debug("flush of %s ended with an error", self.id)
        self._drop_outbox()

    def _drop_outbox(self) -> None:
        self._outbox.clear()
        self._outbox_bytes = 0


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Finish, inside a task, a coroutine already run outside one up to its first wait (an eager start).

    Yields what the coroutine yields (the future it waits on) to the task, and
    passes back what the task sends or throws (a result, a cancellation).
    """
    while True:
        try:
            value = yield waiting_on
        except BaseException as error:  # noqa: BLE001 - cancellation included: it belongs to the coroutine
            try:
                waiting_on = coroutine.throw(error)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coroutine.send(value)
            except StopIteration:
                return
