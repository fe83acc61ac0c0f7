"""Slow clients against a real ``ballast serve`` process: a head or body that crawls is answered 408 (Parse code 124)
and disconnected after its deadline, while normal requests, idle keep-alive connections, honest slow uploads and
LiveQuery WebSockets are served as before."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import ballast_serve
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
HEAD_TIMEOUT = 2.0
MIN_RATE = 100  # bytes a second
MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One server for the module (SQLite: the protocol is the same whatever the database)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/parse"
    data_dir = tmp_path_factory.mktemp("slow") / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PARSE_SERVER_", "BALLAST_"))}
    env |= {"PARSE_SERVER_APPLICATION_ID": APP_ID, "PARSE_SERVER_MASTER_KEY": MASTER_KEY,
            "BALLAST_DATA_DIR": str(data_dir), "PARSE_SERVER_URL": url, "BALLAST_JOBS_ENABLED": "false",
            "BALLAST_REQUEST_HEAD_TIMEOUT": str(HEAD_TIMEOUT), "BALLAST_REQUEST_BODY_MIN_RATE": str(MIN_RATE)}
    with ballast_serve(["--port", str(port)], env, url, cwd=ROOT):
        yield port


async def _answer(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``within`` seconds pass)."""
    chunks = []
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def _trickle(port: int, start: bytes, byte: bytes, every: float) -> tuple[bytes, float]:
    """Send ``start``, then ``byte`` every ``every`` seconds until the server closes: its answer and when it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.monotonic()
    writer.write(start)
    answer = asyncio.create_task(_answer(reader, within=HEAD_TIMEOUT + 15))
    try:
        while not answer.done():
            await asyncio.sleep(every)
            if not writer.is_closing():
                writer.write(byte)
                try:
                    await writer.drain()
                except ConnectionError:
                    break
        return await answer, time.monotonic() - began
    finally:
        writer.close()


async def _timed_get(port: int, path: str) -> float:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        began = time.monotonic()
        response = await http.get(path, headers=MASTER, timeout=5)
        assert response.status_code == 200, response.text
        return time.monotonic() - began


async def test_fifty_slow_heads_leave_others_served_and_are_cut_after_the_timeout(served: int) -> None:
    head = b"GET /parse/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    slow = [asyncio.create_task(_trickle(served, head, b"a", every=0.3)) for _ in range(50)]
    await asyncio.sleep(0.5)  # all 50 are connected and crawling
    waits = [await _timed_get(served, path) for path in ("/parse/health", "/parse/classes/Anything") * 3]
    assert max(waits) < 0.5, waits
    results = await asyncio.gather(*slow)
    for answer, after in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == 124
        assert HEAD_TIMEOUT - 0.1 < after < HEAD_TIMEOUT + 2, after


async def test_a_connection_that_never_sends_a_byte_is_cut(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    began = time.monotonic()
    try:
        answer = await _answer(reader, within=HEAD_TIMEOUT + 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - began < HEAD_TIMEOUT + 1.5


@pytest.mark.parametrize("path", ["/parse/classes/Slow", "/parse/files/slow.txt"])
async def test_a_crawling_body_is_cut_and_nothing_is_written(served: int, path: str) -> None:
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {APP_ID}\r\n"
            f"X-Parse-Master-Key: {MASTER_KEY}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
    answer, after = await _trickle(served, head.encode() + b'{"a":"', b"a", every=0.2)  # 5 bytes/s
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert HEAD_TIMEOUT - 0.1 < after < HEAD_TIMEOUT + 2.5, after
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served}") as http:
        found = await http.get("/parse/classes/Slow", headers=MASTER)
    assert found.json()["results"] == []


async def test_an_idle_keep_alive_connection_and_a_slow_honest_body_are_served(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    request = (f"POST /parse/classes/Honest HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {APP_ID}\r\n"
               f"X-Parse-Master-Key: {MASTER_KEY}\r\nContent-Type: application/json\r\n").encode()
    body = orjson.dumps({"text": "x" * 680})  # 692 bytes at 230 bytes/s: 3 s, past the head timeout, above the rate
    try:
        for second in (False, True):  # the second on the same connection, after an idle pause past the timeout
            if second:
                await asyncio.sleep(HEAD_TIMEOUT + 0.5)
            writer.write(request + b"Content-Length: %d\r\n\r\n" % len(body))
            for offset in range(0, len(body), 115):
                writer.write(body[offset:offset + 115])
                await asyncio.sleep(0.5)
            status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert status.startswith(b"HTTP/1.1 201"), status
            length = int(status.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
    finally:
        writer.close()


async def test_a_live_query_socket_outlives_the_head_timeout(served: int) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{served}/parse") as socket:
        await asyncio.sleep(HEAD_TIMEOUT + 0.5)
        await socket.send(orjson.dumps({"op": "connect", "applicationId": APP_ID, "masterKey": MASTER_KEY}).decode())
        answer = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
    assert answer["op"] == "connected"
