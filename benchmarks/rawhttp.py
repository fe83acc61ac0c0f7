"""A lean keep-alive HTTP/1.1 client for load generation (asyncio protocol + httptools).

On a 2-core machine httpx spends close to a millisecond of CPU per request,
which is about what the servers under test spend: the load generator then
measures itself and squeezes every ratio towards 1. This client parses with
httptools (what uvicorn uses) and costs a small fraction of that, so the
servers, not the client, set the numbers. One connection per client, one
request in flight on it; ``httpx`` stays the client for setup and checks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[Reply] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"bad response: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("connection closed"))

    def _fail(self, error: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        reply = Reply(self.parser.get_status_code(), b"".join(self.body))
        self.body = []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(reply)


class RawClient:
    """One keep-alive connection to one host; ``request`` sends and awaits one answer at a time."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 30) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        fixed = {"Host": f"{self.host}:{self.port}", "Connection": "keep-alive", **headers}
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode()
        self._conn: _Connection | None = None

    async def _connection(self) -> _Connection:
        if self._conn is None or self._conn.closed:
            loop = asyncio.get_running_loop()
            _, self._conn = await loop.create_connection(_Connection, self.host, self.port)
        return self._conn

    async def request(self, method: str, target: str, body: bytes = b"") -> Reply:
        """``target`` is the path and query string, e.g. ``/parse/classes/X?where=...``."""
        conn = await self._connection()
        assert conn.transport is not None
        conn.waiter = asyncio.get_running_loop().create_future()
        length = f"Content-Length: {len(body)}\r\n".encode() if body or method in ("POST", "PUT") else b""
        conn.transport.write(f"{method} {target} HTTP/1.1\r\n".encode() + self._head + length + b"\r\n" + body)
        try:
            return await asyncio.wait_for(conn.waiter, self.timeout)
        except BaseException:
            conn.transport.close()
            self._conn = None
            raise

    async def get(self, target: str) -> Reply:
        return await self.request("GET", target)

    async def post(self, target: str, body: bytes) -> Reply:
        return await self.request("POST", target, body)

    async def aclose(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
        self._conn = None
