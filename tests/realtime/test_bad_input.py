"""Bad frames get the protocol's error and the connection (and everyone else's) carries on."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.realtime.conftest import SocketOpener
from tests.support.live import LiveServer

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # protocol only: one engine is enough


@pytest.fixture
def tight_server(settings: Settings) -> Iterator[LiveServer]:
    """Small limits, to reach them: 2 subscriptions per connection, 4 KiB frames, 4 queued events."""
    limited = settings.model_copy(update={
        "live_query_max_subscriptions": 2, "live_query_max_message": 4096, "live_query_queue": 4,
    })
    with LiveServer(create_app(limited)) as server:
        yield server


async def test_malformed_frames_are_answered_and_the_connection_survives(
    live_server: LiveServer, open_socket: SocketOpener,
) -> None:
    ws = await open_socket(live_server.url)
    bystander = await open_socket(live_server.url)
    await bystander.connect()
    await bystander.subscribe(1, "Thing")

    cases: list[tuple[dict[str, Any] | str, int, str]] = [
        ("{not json", 1, "Invalid JSON"),
        ("[1, 2]", 1, "Invalid type: array (expected object)"),
        ({"nope": 1}, 1, "Missing required property: op"),
        ({"op": "dance"}, 1, 'No enum match for: "dance"'),
        ({"op": "connect"}, 1, "Missing required property: applicationId"),
        ({"op": "connect", "applicationId": APP_ID, "extra": 1}, 1, "Additional properties not allowed"),
        ({"op": "subscribe", "requestId": 1, "query": {"className": "Thing", "where": {}}}, 2,
         "Can not find this client, make sure you connect to server before subscribing"),
        ({"op": "connect", "applicationId": "someone-else"}, 4, "Key in request is not valid"),
        ({"op": "connect", "applicationId": APP_ID, "masterKey": "wrong"}, 4, "Key in request is not valid"),
    ]
    for frame, code, message in cases:
        await ws.send(frame)
        error = await ws.recv()
        assert (error["op"], error["code"]) == ("error", code), frame
        assert message in error["error"] and error["reconnect"] is True and error["requestId"] is None

    assert (await ws.connect())["op"] == "connected"
    await ws.send({"op": "subscribe", "requestId": "one", "query": {"className": "Thing", "where": {}}})
    assert (await ws.recv())["error"] == "Invalid type: string (expected number)"
    bad_where = await ws.subscribe(5, "Thing", {"n": {"$bogus": 1}})
    assert (bad_where["code"], bad_where["requestId"], bad_where["reconnect"]) == (102, 5, False)
    bad_class = await ws.subscribe(6, "Not A Class")
    assert (bad_class["code"], bad_class["requestId"]) == (103, 6)
    await ws.send({"op": "unsubscribe", "requestId": 99})
    assert (await ws.recv())["code"] == 2

    # still alive, and the bystander never noticed
    assert (await ws.subscribe(7, "Thing"))["op"] == "subscribed"
    async with httpx.AsyncClient(base_url=live_server.url, headers={"X-Parse-Application-Id": APP_ID,
                                                                    "X-Parse-Master-Key": MASTER_KEY}) as rest:
        await rest.post("/classes/Thing", json={"n": 1})
    assert (await ws.recv())["op"] == "create"
    assert (await bystander.recv())["op"] == "create"


async def test_limits_on_message_size_and_subscriptions(tight_server: LiveServer, open_socket: SocketOpener) -> None:
    ws = await open_socket(tight_server.url)
    assert (await ws.connect())["op"] == "connected"
    await ws.send({"op": "subscribe", "requestId": 1, "query": {"className": "T", "where": {"s": "x" * 5000}}})
    too_big = await ws.recv()
    assert too_big["code"] == 1 and "Message too large" in too_big["error"]
    assert (await ws.subscribe(1, "T"))["op"] == "subscribed"
    assert (await ws.subscribe(2, "T", {"a": 1}))["op"] == "subscribed"
    refused = await ws.subscribe(3, "T", {"a": 2})
    assert (refused["code"], refused["requestId"]) == (155, 3)
    assert (await ws.subscribe(2, "T", {"a": 3}))["op"] == "subscribed"  # replacing one is fine


def masked_text_frame(text: str) -> bytes:
    """A client->server WebSocket text frame (clients must mask), for a raw socket that never reads."""
    payload, mask = text.encode(), os.urandom(4)
    length = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + length.to_bytes(2, "big"))
    return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def raw_subscriber(port: int) -> socket.socket:
    """A WebSocket client that connects and subscribes to Big, then never reads again (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /parse HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    sock.sendall(masked_text_frame(json.dumps({"op": "connect", "applicationId": APP_ID})))
    sock.sendall(masked_text_frame(json.dumps({"op": "subscribe", "requestId": 1,
                                               "query": {"className": "Big", "where": {}}})))
    return sock


@pytest.fixture
def byte_bound_server(settings: Settings) -> Iterator[LiveServer]:
    """The default frame bound (10,000 events) but a 256 KiB byte bound: only bytes can cut a client off."""
    limited = settings.model_copy(update={"live_query_queue_bytes": 256 * 1024})
    with LiveServer(create_app(limited)) as server:
        yield server


async def test_a_client_too_slow_to_read_is_cut_off_and_others_keep_receiving(
    tight_server: LiveServer, open_socket: SocketOpener,
) -> None:
    """Cut off by the frame bound: 4 queued events."""
    await _slow_client_is_cut_off(tight_server, open_socket)


async def test_a_slow_client_is_cut_off_by_the_bytes_it_holds(
    byte_bound_server: LiveServer, open_socket: SocketOpener,
) -> None:
    """Cut off by the byte bound (256 KiB) long before the frame bound (10,000 events): 60 x 200 KB."""
    await _slow_client_is_cut_off(byte_bound_server, open_socket)


async def _slow_client_is_cut_off(tight_server: LiveServer, open_socket: SocketOpener) -> None:
    fast = await open_socket(tight_server.url)
    await fast.connect()
    await fast.subscribe(1, "Big")
    slow = raw_subscriber(tight_server.port)
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    metrics_url = tight_server.url.removesuffix("/parse") + "/metrics"
    try:
        async with httpx.AsyncClient(base_url=tight_server.url, headers=headers) as rest:
            while "ballast_livequery_subscriptions 2.0" not in (await rest.get(metrics_url)).text:
                await asyncio.sleep(0.05)
            for _ in range(60):  # ~12 MB for a reader whose buffers hold a few
                await rest.post("/classes/Big", json={"blob": "x" * 200_000})
                assert (await fast.recv())["op"] == "create"
            metrics = (await rest.get(metrics_url)).text
        assert 'ballast_livequery_events_dropped_total{reason="slow_client"} 1.0' in metrics
        assert "ballast_livequery_clients 1.0" in metrics
    finally:
        slow.close()
