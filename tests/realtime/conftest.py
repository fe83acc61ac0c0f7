"""Realtime fixtures: a real redis-server on a loopback port, and a WebSocket client helper."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import APP_ID
from tests.support.live import LiveServer
from tests.support.postgres import free_port


class RedisServer:
    """redis-server with no persistence, in a temporary directory, on a free loopback port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run infra/test.sh, which installs it.")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="ballast-redis-"))
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not come up within 20 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


class LiveSocket:
    """A raw LiveQuery client over the `websockets` library: send dicts, receive decoded frames."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        # the timeout only keeps a broken test from hanging; it asserts nothing about speed
        raw = await asyncio.wait_for(self.connection.recv(), 30)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def connect(self, **fields: Any) -> dict[str, Any]:
        await self.send({"op": "connect", "applicationId": APP_ID, **fields})
        return await self.recv()

    async def subscribe(self, request_id: int, class_name: str, where: dict[str, Any] | None = None,
                        **extra: Any) -> dict[str, Any]:
        query: dict[str, Any] = {"className": class_name, "where": where or {}}
        session = extra.pop("sessionToken", None)
        query.update(extra)
        frame: dict[str, Any] = {"op": "subscribe", "requestId": request_id, "query": query}
        if session:
            frame["sessionToken"] = session
        await self.send(frame)
        return await self.recv()



SocketOpener = Callable[[str], Awaitable[LiveSocket]]
"""What the ``open_socket`` fixture gives: ``await open_socket(url)`` -> a connected LiveSocket."""


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1)


@pytest.fixture
async def open_socket() -> AsyncIterator[SocketOpener]:
    """``await open_socket(url)`` -> LiveSocket; every socket is closed at the end of the test."""
    opened: list[websockets.ClientConnection] = []

    async def opener(url: str) -> LiveSocket:
        connection = await websockets.connect(ws_url(url), max_size=None)
        opened.append(connection)
        return LiveSocket(connection)

    yield opener
    for connection in opened:
        await connection.close()


@pytest.fixture
async def rest(live_server: LiveServer, master_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, headers=master_headers) as http:
        yield http
