"""Cloud code around LiveQuery: beforeConnect, beforeSubscribe and afterLiveQueryEvent triggers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backend.cloud import Handler, cloud
from backend.errors import ValidationFailed
from backend.realtime.hooks import ConnectRequest, LiveEventRequest, SubscribeRequest
from tests.realtime.conftest import SocketOpener
from tests.support.live import LiveServer

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def triggers() -> Iterator[None]:
    def refuse_kiosks(request: ConnectRequest) -> None:
        if request.installation_id == "kiosk":
            raise ValidationFailed("Kiosks may not listen.")

    def approved_only(request: SubscribeRequest) -> None:
        request.where["approved"] = True

    async def decorate(request: LiveEventRequest) -> None:
        if request.object.get("hidden"):
            request.send_event = False
        request.object["seenBy"] = "hook"

    registered: list[tuple[str, str, Handler]] = [
        ("beforeConnect", "@Connect", refuse_kiosks), ("beforeSubscribe", "Post", approved_only),
        ("afterLiveQueryEvent", "Post", decorate)]
    for kind, class_name, handler in registered:
        cloud.trigger(kind, class_name)(handler)
    yield
    for kind, class_name, _ in registered:
        cloud.registry.triggers.pop((kind, class_name), None)


async def test_triggers_can_refuse_narrow_drop_and_alter(
    triggers: None, live_server: LiveServer, master_headers: dict[str, str], open_socket: SocketOpener,
) -> None:
    kiosk = await open_socket(live_server.url)
    refused = await kiosk.connect(installationId="kiosk")
    assert (refused["op"], refused["code"], refused["error"]) == ("error", 142, "Kiosks may not listen.")

    ws = await open_socket(live_server.url)
    await ws.connect(installationId="phone")
    await ws.subscribe(1, "Post")
    posts: list[dict[str, Any]] = [{"title": "draft", "approved": False}, {"title": "secret", "approved": True,
                                   "hidden": True}, {"title": "live", "approved": True}]
    async with httpx.AsyncClient(base_url=live_server.url, headers=master_headers) as rest:
        for post in posts:
            assert (await rest.post("/classes/Post", json=post)).status_code == 201
    event = await ws.recv()  # the draft was outside the narrowed query, the hidden one was dropped by the hook
    assert event["object"]["title"] == "live" and event["object"]["seenBy"] == "hook"
