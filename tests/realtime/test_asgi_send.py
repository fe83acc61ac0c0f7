"""LiveQuery under a server without the direct-write extension (every frame goes through the ASGI send), and with
per-message deflate negotiated (the direct write lets the library frame and compress)."""

from __future__ import annotations

import httpx

from backend.app import create_app
from backend.config import Settings
from tests.realtime.conftest import SocketOpener
from tests.support.live import LiveServer


async def test_events_arrive_in_order_through_plain_asgi_sends(
    settings: Settings, master_headers: dict[str, str], open_socket: SocketOpener,
) -> None:
    with LiveServer(create_app(settings), ws="websockets-sansio") as server:
        ws = await open_socket(server.url)
        await ws.connect()
        await ws.subscribe(1, "Plain", {"n": {"$gte": 0}})
        async with httpx.AsyncClient(base_url=server.url, headers=master_headers) as rest:
            created = await rest.post("/classes/Plain", json={"n": 1})
            object_id = created.json()["objectId"]
            for n in (2, 3):
                assert (await rest.put(f"/classes/Plain/{object_id}", json={"n": n})).status_code == 200
            assert (await rest.delete(f"/classes/Plain/{object_id}")).status_code == 200
        frames = [await ws.recv() for _ in range(4)]
        assert [(f["op"], f["object"].get("n")) for f in frames] == [
            ("create", 1), ("update", 2), ("update", 3), ("delete", 3)]


async def test_events_arrive_in_order_when_the_connection_compresses(
    settings: Settings, master_headers: dict[str, str], open_socket: SocketOpener,
) -> None:
    """With permessage-deflate negotiated the direct write leaves framing to the library (``ballast serve`` turns
    it off; another server may not): events still arrive whole, in order, and decompressed."""
    with LiveServer(create_app(settings), per_message_deflate=True) as server:
        ws = await open_socket(server.url)
        assert ws.connection.response is not None
        assert "permessage-deflate" in (ws.connection.response.headers.get("Sec-WebSocket-Extensions") or "")
        await ws.connect()
        await ws.subscribe(1, "Packed", {"n": {"$gte": 0}})
        async with httpx.AsyncClient(base_url=server.url, headers=master_headers) as rest:
            for n in (1, 2, 3):
                assert (await rest.post("/classes/Packed", json={"n": n, "text": "x" * 500})).status_code == 201
        frames = [await ws.recv() for _ in range(3)]
        assert [(f["op"], f["object"]["n"], len(f["object"]["text"])) for f in frames] == [
            ("create", 1, 500), ("create", 2, 500), ("create", 3, 500)]
