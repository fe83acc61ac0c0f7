"""LiveQuery on _User and _Session: the owner hears master-key changes; session tokens never travel.

Parse Server 9 keeps a user's _Session subscription to their own sessions and would send each new session's
``sessionToken``; Ballast never sends one over LiveQuery (a token read off a socket is a login). Before: a
subscribed owner got no ``update`` when their _User row was changed with the master key (last attack round),
and a user subscribed to _Session received their new sessions' tokens.
"""

from __future__ import annotations

import httpx

from tests.conftest import APP_ID
from tests.realtime.conftest import SocketOpener
from tests.realtime.test_sessions import sign_up
from tests.support.live import LiveServer


async def test_the_owner_hears_a_master_key_change_of_their_user_row(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    ws = await open_socket(live_server.url)
    await ws.connect(sessionToken=ada_token)
    assert (await ws.subscribe(1, "_User", {"objectId": ada_id}))["op"] == "subscribed"
    assert (await ws.subscribe(2, "_User"))["op"] == "subscribed"
    for path, nick in ((f"/users/{ada_id}", "A"), (f"/classes/_User/{ada_id}", "B")):
        changed = await rest.put(path, json={"nick": nick})
        assert changed.status_code == 200, changed.text
        frames = [await ws.recv(), await ws.recv()]
        assert sorted(frame["requestId"] for frame in frames) == [1, 2]
        for frame in frames:
            assert (frame["op"], frame["object"]["objectId"], frame["object"]["nick"]) == ("update", ada_id, nick)
            assert not {"sessionToken", "_hashed_password", "password", "authData"} & set(frame["object"])


async def test_new_sessions_reach_their_user_without_their_token(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    await sign_up(rest, "bob")
    ws = await open_socket(live_server.url)
    await ws.connect(sessionToken=ada_token)
    assert (await ws.subscribe(1, "_Session"))["op"] == "subscribed"
    await rest.post("/login", json={"username": "bob", "password": "pw-bob"},
                    headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": ""})
    login = await rest.post("/login", json={"username": "ada", "password": "pw-ada"},
                            headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": ""})
    assert login.status_code == 200, login.text
    frame = await ws.recv()  # bob's session never comes: ada's own only
    assert frame["op"] == "create" and frame["object"]["user"]["objectId"] == ada_id
    assert "sessionToken" not in frame["object"]
    assert login.json()["sessionToken"] not in str(frame)


async def test_watching_or_selecting_the_session_token_reveals_nothing(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    _, ada_token = await sign_up(rest, "ada")
    ws = await open_socket(live_server.url)
    await ws.connect(sessionToken=ada_token)
    watched = await ws.subscribe(1, "_Session", watch=["sessionToken"])
    assert (watched["op"], watched["code"]) == ("error", 119), watched
    assert (await ws.subscribe(2, "_Session", keys=["sessionToken", "user"]))["op"] == "subscribed"
    await rest.post("/login", json={"username": "ada", "password": "pw-ada"},
                    headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": ""})
    frame = await ws.recv()
    assert frame["requestId"] == 2 and "sessionToken" not in frame["object"]
