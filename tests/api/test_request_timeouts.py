"""A request body that never finishes is answered 408 (Parse code 124) after ``request_body_timeout``, as
parse-server's express does at 60 s; other requests are answered meanwhile and nothing is written."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import LiveServer

MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


@pytest.fixture
def quick_server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings.model_copy(update={"request_body_timeout": 6.0}))) as server:
        yield server


def test_an_unfinished_body_is_answered_408_and_others_are_served(quick_server: LiveServer) -> None:
    sock = socket.create_connection(("127.0.0.1", quick_server.port))
    try:
        sock.sendall(b"POST /parse/classes/Slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Parse-Application-Id: " + APP_ID.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"a\":")
        started = time.monotonic()
        health = httpx.get(f"{quick_server.url}/health", timeout=5)
        assert health.status_code == 200 and time.monotonic() - started < 5  # answered while the body hangs
        sock.settimeout(15)
        answer = sock.recv(4096)
        while not answer.endswith(b"}"):  # the head and the body may come in separate segments
            more = sock.recv(4096)
            if not more:
                break
            answer += more
        assert time.monotonic() - started < 12
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":124' in answer
    found = httpx.get(f"{quick_server.url}/classes/Slow", headers=MASTER, timeout=5)
    assert found.json()["results"] == []
