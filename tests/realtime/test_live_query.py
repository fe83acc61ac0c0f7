"""LiveQuery over a real WebSocket, on both engines: events, ACL, CLP, protected fields, keys, watch, include."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import MASTER_KEY
from tests.realtime.conftest import SocketOpener
from tests.support.live import LiveServer


@pytest.fixture
async def rest(live_server: LiveServer, master_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, headers=master_headers) as http:
        yield http


async def create(rest: httpx.AsyncClient, class_name: str, body: dict[str, Any]) -> str:
    response = await rest.post(f"/classes/{class_name}", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["objectId"])


async def update(rest: httpx.AsyncClient, class_name: str, object_id: str, body: dict[str, Any]) -> None:
    response = await rest.put(f"/classes/{class_name}/{object_id}", json=body)
    assert response.status_code == 200, response.text


PRIVATE = {"ACL": {"someoneElse": {"read": True, "write": True}}}


async def test_an_object_moving_through_a_query_yields_every_event_type(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ws = await open_socket(live_server.url)
    connected = await ws.connect(installationId="inst-1")
    assert connected["op"] == "connected" and connected["installationId"] == "inst-1"
    subscribed = await ws.subscribe(7, "Score", {"points": {"$gt": 10}})
    assert subscribed == {"op": "subscribed", "clientId": connected["clientId"], "installationId": "inst-1",
                          "requestId": 7}

    object_id = await create(rest, "Score", {"points": 20, "player": "ada"})
    created = await ws.recv()
    assert created["op"] == "create" and created["requestId"] == 7 and "original" not in created
    assert created["object"]["className"] == "Score" and created["object"]["objectId"] == object_id
    assert created["object"]["points"] == 20 and created["object"]["player"] == "ada"

    await update(rest, "Score", object_id, {"points": 25})
    updated = await ws.recv()
    assert (updated["op"], updated["object"]["points"], updated["original"]["points"]) == ("update", 25, 20)

    await update(rest, "Score", object_id, {"points": 5})
    left = await ws.recv()
    assert (left["op"], left["object"]["points"], left["original"]["points"]) == ("leave", 5, 25)

    await update(rest, "Score", object_id, {"points": 50})
    entered = await ws.recv()
    assert (entered["op"], entered["object"]["points"], entered["original"]["points"]) == ("enter", 50, 5)

    assert (await rest.delete(f"/classes/Score/{object_id}")).status_code == 200
    deleted = await ws.recv()
    assert deleted["op"] == "delete" and deleted["object"]["objectId"] == object_id


async def test_objects_outside_the_query_are_not_sent(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ws = await open_socket(live_server.url)
    await ws.connect()
    await ws.subscribe(1, "Score", {"player": "ada"})
    await create(rest, "Score", {"player": "bob"})
    marker = await create(rest, "Score", {"player": "ada"})
    assert (await ws.recv())["object"]["objectId"] == marker


async def test_acl_hides_objects_an_anonymous_subscriber_may_not_read(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    anonymous = await open_socket(live_server.url)
    await anonymous.connect()
    await anonymous.subscribe(1, "Note")
    master = await open_socket(live_server.url)
    await master.connect(masterKey=MASTER_KEY)
    await master.subscribe(1, "Note")

    private = await create(rest, "Note", {"text": "secret", **PRIVATE})
    public = await create(rest, "Note", {"text": "hello"})
    assert (await anonymous.recv())["object"]["objectId"] == public  # the private one never came
    assert [(await master.recv())["object"]["objectId"] for _ in range(2)] == [private, public]

    # losing read access is a leave that shows only what the subscriber could read before
    await update(rest, "Note", public, {"text": "now private", **PRIVATE})
    left = await anonymous.recv()
    assert left["op"] == "leave" and left["object"]["text"] == "hello" and "ACL" not in left["object"]
    # gaining it is an enter without the unreadable original
    await update(rest, "Note", private, {"ACL": {"*": {"read": True}}})
    entered = await anonymous.recv()
    assert entered["op"] == "enter" and entered["object"]["objectId"] == private and "original" not in entered


async def test_keys_limit_the_fields_and_watch_limits_updates(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ws = await open_socket(live_server.url)
    await ws.connect()
    await ws.subscribe(1, "Player", {}, keys=["name"], watch=["level"])
    object_id = await create(rest, "Player", {"name": "ada", "level": 1, "bio": "long text"})
    created = await ws.recv()
    assert set(created["object"]) == {"className", "objectId", "createdAt", "updatedAt", "name"}

    await update(rest, "Player", object_id, {"bio": "changed, but not watched"})
    await update(rest, "Player", object_id, {"level": 2})
    updated = await ws.recv()
    assert updated["op"] == "update" and updated["object"]["name"] == "ada" and "level" not in updated["object"]
    assert updated["original"]["updatedAt"] != updated["object"]["updatedAt"]


async def test_protected_fields_are_hidden_and_cannot_be_queried(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    clp = {"find": {"*": True}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True},
           "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": ["salary"]}}
    response = await rest.post("/schemas/Staff", json={"className": "Staff", "classLevelPermissions": clp,
                                                        "fields": {"salary": {"type": "Number"}}})
    assert response.status_code == 200, response.text
    anonymous = await open_socket(live_server.url)
    await anonymous.connect()
    refused = await anonymous.subscribe(1, "Staff", {"salary": {"$gt": 100}})
    assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 119, 1)
    await anonymous.subscribe(2, "Staff")
    master = await open_socket(live_server.url)
    await master.connect(masterKey=MASTER_KEY)
    await master.subscribe(1, "Staff")

    await create(rest, "Staff", {"name": "ada", "salary": 200})
    seen = (await anonymous.recv())["object"]
    assert seen["name"] == "ada" and "salary" not in seen
    assert (await master.recv())["object"]["salary"] == 200


async def test_class_level_permissions_refuse_the_subscription(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    clp = {"find": {}, "get": {}, "create": {"*": True}, "update": {"*": True}, "delete": {"*": True},
           "addField": {"*": True}}
    response = await rest.post("/schemas/Vault", json={"className": "Vault", "classLevelPermissions": clp})
    assert response.status_code == 200, response.text
    ws = await open_socket(live_server.url)
    await ws.connect()
    refused = await ws.subscribe(3, "Vault")
    assert refused == {"op": "error", "error": "Permission denied for action find on class Vault.", "code": 119,
                       "reconnect": False, "requestId": 3}


async def test_include_resolves_pointers_with_the_subscriber_permissions(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    public = await create(rest, "Author", {"name": "ada"})
    private = await create(rest, "Author", {"name": "hidden", **PRIVATE})
    ws = await open_socket(live_server.url)
    await ws.connect()
    await ws.subscribe(1, "Book", {}, include=["author"])

    pointer = {"__type": "Pointer", "className": "Author"}
    await create(rest, "Book", {"title": "one", "author": {**pointer, "objectId": public}})
    resolved = (await ws.recv())["object"]["author"]
    assert resolved["__type"] == "Object" and resolved["name"] == "ada" and resolved["objectId"] == public
    await create(rest, "Book", {"title": "two", "author": {**pointer, "objectId": private}})
    assert (await ws.recv())["object"]["author"] == {**pointer, "objectId": private}


async def test_identical_queries_share_one_matcher_and_unsubscribe_stops_events(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    first, second = await open_socket(live_server.url), await open_socket(live_server.url)
    await first.connect()
    await second.connect()
    await first.subscribe(1, "Game", {"a": 1, "b": 2})
    await second.subscribe(1, "Game", {"b": 2, "a": 1})
    metrics = (await rest.get(live_server.url.removesuffix("/parse") + "/metrics")).text
    assert "ballast_livequery_queries 1.0" in metrics and "ballast_livequery_subscriptions 2.0" in metrics

    await first.send({"op": "unsubscribe", "requestId": 1})
    assert (await first.recv())["op"] == "unsubscribed"
    await first.subscribe(2, "Game", {"marker": True})
    await create(rest, "Game", {"a": 1, "b": 2})
    await create(rest, "Game", {"marker": True})
    assert (await first.recv())["requestId"] == 2  # the unsubscribed query sent nothing
    assert (await second.recv())["object"]["a"] == 1


async def test_only_configured_classes_are_live(
    settings: Settings, master_headers: dict[str, str], open_socket: SocketOpener,
) -> None:
    limited = settings.model_copy(update={"live_query_classes": ["Live"]})
    with LiveServer(create_app(limited)) as server:
        ws = await open_socket(server.url)
        await ws.connect()
        await ws.subscribe(1, "Dead")
        await ws.subscribe(2, "Live")
        async with httpx.AsyncClient(base_url=server.url, headers=master_headers) as rest:
            await create(rest, "Dead", {"n": 1})
            await create(rest, "Live", {"n": 2})
        assert (await ws.recv())["requestId"] == 2  # as Parse's liveQuery.classNames: the other class is silent


async def test_a_subscription_is_read_checked_as_a_find(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    """Issue 14: the where of a subscription passes the find's read check (names as the matcher reads them)."""
    signed = await rest.post("/users", json={"authData": {"anonymous": {"id": "1f-anon"}}})
    assert signed.status_code == 201, signed.text
    ws = await open_socket(live_server.url)
    await ws.connect()
    wheres: tuple[dict[str, Any], ...] = ({"authData.anonymous.id": {"$regex": "^1"}},
                                          {"$or": [{"username": "x"}, {"email": {"$regex": "^a"}}]})
    for request_id, where in enumerate(wheres, start=1):
        refused = await ws.subscribe(request_id, "_User", where)
        assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 119, request_id), refused
    probe = {"objectId": {"$select": {"query": {"className": "_User", "where": {"authData.anonymous.id": "1f-anon"}},
                                      "key": "objectId"}}}
    refused = await ws.subscribe(9, "Note", probe)
    assert refused["op"] == "error" and refused["requestId"] == 9, refused
