"""uvicorn's HTTP protocol (httptools) with deadlines on what a client sends: the request head and its body.

uvicorn bounds only the idle time between two requests (keep-alive). A client that opens a connection and sends
its head a byte at a time, or never, held the connection and its buffers for ever (slowloris), and a body trickled
in a byte every few seconds did too. Here every request head must arrive within ``head_timeout`` seconds (from
the connection's opening for the first request, from its first byte for the next ones), and a body may take
``head_timeout`` seconds plus one second per ``body_min_rate`` bytes it has sent: a crawling client falls behind
that budget, a slow but honest upload never does. A client past its deadline is answered 408 (Parse code 124, as
parse-server's node answers a head past ``headersTimeout``) when no answer has started, and disconnected. Time
while uvicorn itself does not read (the app has not asked for the body yet, or ``Expect: 100-continue`` waits for
it) never counts against the client. Run uvicorn with ``http=DeadlineHttpProtocol`` (``ballast serve`` does); the
app hands the limits over in its lifespan state under ``DEADLINES``.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

DEADLINES = "ballast.request_deadlines"  # key of the lifespan state that carries the app's RequestDeadlines
TIMEOUT_CODE = 124  # Parse's code for a timeout


@dataclass(frozen=True)
class RequestDeadlines:
    head_timeout: float = 20.0
    body_min_rate: int = 1024  # bytes a second, on average, once head_timeout of grace has passed


class DeadlineHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = app_state.get(DEADLINES)
        self.deadlines = limits if isinstance(limits, RequestDeadlines) else RequestDeadlines()
        self.deadline: TimerHandle | None = None
        self.body_since = 0.0  # when the body's budget started (the head's end, or the last pause of reading)
        self.body_bytes = 0  # body bytes received since body_since

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.deadlines.head_timeout, self._head_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # the first request's clock has run since the connection opened
            self._arm(self.deadlines.head_timeout, self._head_overdue)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):  # a WebSocket is not an HTTP body
            self.body_since, self.body_bytes = self.loop.time(), 0
            self._arm(self.deadlines.head_timeout, self._body_overdue)

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, then: Any) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _not_reading(self) -> bool:
        """True while uvicorn, not the client, holds the request up."""
        waiting = self.cycle is not None and self.cycle.waiting_for_100_continue and not self.cycle.response_complete
        return self.flow.read_paused or waiting

    def _head_overdue(self) -> None:
        self.deadline = None
        if self._not_reading():
            self._arm(self.deadlines.head_timeout, self._head_overdue)
            return
        self._cut(f"The request head did not arrive within {self.deadlines.head_timeout:g} s.")

    def _body_overdue(self) -> None:
        self.deadline = None
        now = self.loop.time()
        if self._not_reading():
            self.body_since, self.body_bytes = now, 0
        due = self.body_since + self.deadlines.head_timeout + self.body_bytes / self.deadlines.body_min_rate
        if now < due:
            self._arm(due - now, self._body_overdue)
            return
        cycle = self.cycle
        cycle.keep_alive = False
        cycle.disconnected = True  # the app's receive() answers http.disconnect and its later sends go nowhere
        cycle.message_event.set()
        rate = self.deadlines.body_min_rate
        self._cut(None if cycle.response_started else f"The request body arrived slower than {rate} bytes/s.")

    def _cut(self, answer: str | None) -> None:
        """Close the connection, first answering 408 with ``answer`` when a response can still be written."""
        if self.transport.is_closing():
            return
        if answer is not None:
            self.transport.write(timeout_answer(answer))
        self.transport.close()


def timeout_answer(message: str) -> bytes:
    """A whole HTTP 408 response carrying Parse's timeout error, closing the connection."""
    body = orjson.dumps({"code": TIMEOUT_CODE, "error": message})
    head = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body
