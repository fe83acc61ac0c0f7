"""Two Ballast instances on one database and a real redis-server: a write on A reaches B's subscribers once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from backend.app import create_app
from backend.config import Settings
from tests.realtime.conftest import RedisServer, SocketOpener
from tests.support.live import LiveServer


@pytest.fixture
def two_instances(settings: Settings, redis_server: RedisServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    shared = settings.model_copy(update={"redis_url": redis_server.url})
    with LiveServer(create_app(shared)) as first, LiveServer(create_app(shared)) as second:
        yield first, second


def channel_subscribers(redis_server: RedisServer, *class_names: str) -> dict[str, int]:
    """How many instances listen to each class's channel (PUBSUB NUMSUB)."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        channels = [f"ballast:test-app:livequery:{name}" for name in class_names]
        counts = dict(client.pubsub_numsub(*channels))
    finally:
        client.close()
    return {name: int(counts[channel.encode()]) for name, channel in zip(class_names, channels, strict=True)}


async def test_a_write_on_one_instance_reaches_subscribers_on_both_exactly_once(
    two_instances: tuple[LiveServer, LiveServer], redis_server: RedisServer, master_headers: dict[str, str],
    open_socket: SocketOpener,
) -> None:
    a, b = two_instances
    on_b = await open_socket(b.url)
    await on_b.connect()
    assert (await on_b.subscribe(1, "Message", {"room": "lobby"}))["op"] == "subscribed"
    on_a = await open_socket(a.url)
    await on_a.connect()
    await on_a.subscribe(1, "Message", {"room": "lobby"})

    async with httpx.AsyncClient(base_url=a.url, headers=master_headers) as rest:
        first = (await rest.post("/classes/Message", json={"room": "lobby", "text": "hi"})).json()["objectId"]
        second = (await rest.post("/classes/Message", json={"room": "lobby", "text": "again"})).json()["objectId"]
        await rest.put(f"/classes/Message/{first}", json={"text": "edited"})

    for socket in (on_b, on_a):
        frames = [await socket.recv() for _ in range(3)]
        # in commit order, and the next frame after 'create first' is 'create second': no duplicate
        assert [(f["op"], f["object"]["objectId"]) for f in frames] == [
            ("create", first), ("create", second), ("update", first)]
        assert frames[2]["object"]["text"] == "edited" and frames[2]["original"]["text"] == "hi"


async def test_instances_listen_only_to_the_classes_their_clients_subscribe_to(
    two_instances: tuple[LiveServer, LiveServer], redis_server: RedisServer, open_socket: SocketOpener,
) -> None:
    a, b = two_instances
    on_b = await open_socket(b.url)
    await on_b.connect()
    await on_b.subscribe(1, "Watched")
    assert channel_subscribers(redis_server, "Watched", "Ignored") == {"Watched": 1, "Ignored": 0}

    on_a = await open_socket(a.url)
    await on_a.connect()
    await on_a.subscribe(1, "Watched")
    assert channel_subscribers(redis_server, "Watched")["Watched"] == 2

    await on_b.send({"op": "unsubscribe", "requestId": 1})
    assert (await on_b.recv())["op"] == "unsubscribed"
    assert channel_subscribers(redis_server, "Watched")["Watched"] == 1
