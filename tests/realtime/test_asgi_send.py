"""LiveQuery under a server without the direct-write extension: every frame goes through the ASGI send."""

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
