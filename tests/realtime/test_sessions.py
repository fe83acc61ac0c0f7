"""Session-token subscriptions: a user sees what the user may read; roles count; revoked sessions stop."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import APP_ID
from tests.realtime.conftest import SocketOpener
from tests.support.live import LiveServer


async def sign_up(rest: httpx.AsyncClient, username: str) -> tuple[str, str]:
    response = await rest.post("/users", json={"username": username, "password": "pw-" + username},
                               headers={"X-Parse-Application-Id": APP_ID})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["objectId"], body["sessionToken"]


async def create(rest: httpx.AsyncClient, class_name: str, body: dict[str, Any]) -> str:
    response = await rest.post(f"/classes/{class_name}", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["objectId"])


def readable_by(*names: str) -> dict[str, Any]:
    return {"ACL": {name: {"read": True} for name in names}}


async def test_a_session_token_subscription_sees_only_what_its_user_may_read(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    bob_id, _ = await sign_up(rest, "bob")
    as_connection = await open_socket(live_server.url)
    await as_connection.connect(sessionToken=ada_token)
    await as_connection.subscribe(1, "Letter")
    per_subscription = await open_socket(live_server.url)
    await per_subscription.connect()
    await per_subscription.subscribe(1, "Letter", sessionToken=ada_token)

    await create(rest, "Letter", {"to": "bob", **readable_by(bob_id)})
    mine = await create(rest, "Letter", {"to": "ada", **readable_by(ada_id)})
    for ws in (as_connection, per_subscription):
        frame = await ws.recv()
        assert frame["op"] == "create" and frame["object"]["objectId"] == mine  # bob's letter never came


async def test_an_invalid_token_is_refused(live_server: LiveServer, open_socket: SocketOpener) -> None:
    ws = await open_socket(live_server.url)
    refused = await ws.connect(sessionToken="r:not-a-session")
    assert (refused["op"], refused["code"], refused["reconnect"]) == ("error", 209, False)
    await ws.connect()
    refused = await ws.subscribe(4, "Letter", sessionToken="r:not-a-session")
    assert (refused["code"], refused["requestId"]) == (209, 4)


async def test_logging_out_ends_the_subscriptions_of_that_session(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    ws = await open_socket(live_server.url)
    await ws.connect()
    await ws.subscribe(1, "Letter", sessionToken=ada_token)
    await ws.subscribe(2, "Letter", {"public": True})
    await create(rest, "Letter", {"n": 1, **readable_by(ada_id)})
    assert (await ws.recv())["requestId"] == 1

    logout = await rest.post("/logout", headers={"X-Parse-Application-Id": APP_ID,
                                                  "X-Parse-Session-Token": ada_token, "X-Parse-Master-Key": ""})
    assert logout.status_code == 200, logout.text
    ended = await ws.recv()
    assert (ended["op"], ended["code"], ended["requestId"]) == ("error", 209, 1)
    await create(rest, "Letter", {"n": 2, **readable_by(ada_id, "*")})
    await create(rest, "Letter", {"public": True})
    frame = await ws.recv()
    assert frame["requestId"] == 2 and frame["object"]["public"] is True  # nothing more for request 1


async def test_joining_a_role_takes_effect_on_the_next_event(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    role = await rest.post("/roles", json={"name": "Editors", "ACL": {"*": {"read": True}}})
    assert role.status_code == 201, role.text
    ws = await open_socket(live_server.url)
    await ws.connect(sessionToken=ada_token)
    await ws.subscribe(1, "Draft")

    await create(rest, "Draft", {"n": 1, **readable_by("role:Editors")})
    await create(rest, "Draft", {"n": 2, **readable_by(ada_id)})
    assert (await ws.recv())["object"]["n"] == 2  # not an editor yet

    user = {"__type": "Pointer", "className": "_User", "objectId": ada_id}
    joined = await rest.put(f"/roles/{role.json()['objectId']}",
                            json={"users": {"__op": "AddRelation", "objects": [user]}})
    assert joined.status_code == 200, joined.text
    await create(rest, "Draft", {"n": 3, **readable_by("role:Editors")})
    assert (await ws.recv())["object"]["n"] == 3


async def test_pointer_permissions_limit_events_to_the_users_own_objects(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    bob_id, _ = await sign_up(rest, "bob")
    clp = {"find": {"pointerFields": ["owner"]}, "get": {"pointerFields": ["owner"]}, "create": {"*": True},
           "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}}
    schema = await rest.post("/schemas/Task", json={"className": "Task", "classLevelPermissions": clp,
                                                     "fields": {"owner": {"type": "Pointer", "targetClass": "_User"}}})
    assert schema.status_code == 200, schema.text
    ws = await open_socket(live_server.url)
    await ws.connect(sessionToken=ada_token)
    assert (await ws.subscribe(1, "Task"))["op"] == "subscribed"

    def owner(user_id: str) -> dict[str, str]:
        return {"__type": "Pointer", "className": "_User", "objectId": user_id}

    await create(rest, "Task", {"title": "bob's", "owner": owner(bob_id)})
    await create(rest, "Task", {"title": "ada's", "owner": owner(ada_id)})
    assert (await ws.recv())["object"]["title"] == "ada's"


async def test_an_expired_session_stops_receiving(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    ws = await open_socket(live_server.url)
    await ws.connect()
    await ws.subscribe(1, "Letter", sessionToken=ada_token)
    await ws.subscribe(2, "Letter", {"public": True})
    sessions = await rest.get("/sessions", params={"where": json.dumps({"sessionToken": ada_token})})
    session_id = sessions.json()["results"][0]["objectId"]
    expired = await rest.put(f"/sessions/{session_id}",
                             json={"expiresAt": {"__type": "Date", "iso": "2001-01-01T00:00:00.000Z"}})
    assert expired.status_code == 200, expired.text
    ended = await ws.recv()
    assert (ended["op"], ended["code"], ended["requestId"]) == ("error", 209, 1)
    await create(rest, "Letter", {"n": 1, **readable_by(ada_id)})
    await create(rest, "Letter", {"public": True})
    assert (await ws.recv())["requestId"] == 2
