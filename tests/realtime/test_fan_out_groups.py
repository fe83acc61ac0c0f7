"""One fan-out to subscribers of many identities (both engines): the hub decides an event once per group of
subscribers its rules cannot tell apart, so each of these must still get exactly the events, ops and fields
that its own ACL names, roles and protected-field rules allow -- including a user a rule names by id."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import MASTER_KEY
from tests.realtime.conftest import LiveSocket, SocketOpener
from tests.realtime.test_sessions import create, readable_by, sign_up
from tests.support.live import LiveServer


async def add_role(rest: httpx.AsyncClient, name: str, *user_ids: str) -> None:
    users = [{"__type": "Pointer", "className": "_User", "objectId": user_id} for user_id in user_ids]
    response = await rest.post("/roles", json={"name": name, "ACL": {"*": {"read": True}},
                                               "users": {"__op": "AddRelation", "objects": users}})
    assert response.status_code == 201, response.text


async def frames_until(ws: LiveSocket, last: int) -> list[tuple[str, int, bool]]:
    """(op, n, secret shown) of every event up to and including the one with n == ``last``."""
    seen: list[tuple[str, int, bool]] = []
    while not seen or seen[-1][1] != last:
        frame = await ws.recv()
        obj: dict[str, Any] = frame["object"]
        seen.append((frame["op"], obj["n"], "secret" in obj))
    return seen


async def test_every_identity_in_one_fan_out_gets_exactly_its_own_events_and_fields(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    ada_id, ada_token = await sign_up(rest, "ada")
    bob_id, bob_token = await sign_up(rest, "bob")
    _, cy_token = await sign_up(rest, "cy")
    dee_id, dee_token = await sign_up(rest, "dee")
    await add_role(rest, "Editors", ada_id, bob_id)
    # the secret: hidden from everyone but Editors and dee (a rule naming a user by id), and the master key
    clp = {"find": {"*": True}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True},
           "delete": {"*": True}, "addField": {"*": True},
           "protectedFields": {"*": ["secret"], "role:Editors": [], dee_id: []}}
    schema = await rest.post("/schemas/Memo", json={"className": "Memo", "classLevelPermissions": clp,
                                                     "fields": {"secret": {"type": "String"}}})
    assert schema.status_code == 200, schema.text
    sockets: dict[str, LiveSocket] = {}
    for name, fields in {"ada": {"sessionToken": ada_token}, "bob": {"sessionToken": bob_token},
                         "cy": {"sessionToken": cy_token}, "dee": {"sessionToken": dee_token},
                         "anonymous": {}, "master": {"masterKey": MASTER_KEY}}.items():
        sockets[name] = await open_socket(live_server.url)
        assert (await sockets[name].connect(**fields))["op"] == "connected"
        assert (await sockets[name].subscribe(1, "Memo"))["op"] == "subscribed"  # one query: one fan-out

    await create(rest, "Memo", {"n": 1, "secret": "s", **readable_by("*")})
    editors_only = await create(rest, "Memo", {"n": 2, "secret": "s", **readable_by("role:Editors")})
    await create(rest, "Memo", {"n": 3, "secret": "s", **readable_by(dee_id)})
    await create(rest, "Memo", {"n": 4, "secret": "s", **readable_by(ada_id, "role:Nobody")})
    opened = await rest.put(f"/classes/Memo/{editors_only}", json={"n": 5, **readable_by("*")})
    assert opened.status_code == 200, opened.text
    await create(rest, "Memo", {"n": 6, **readable_by("*")})  # the last event: everyone's list ends here

    everyone = [("create", 6, False)]
    expected = {
        "ada": [("create", 1, True), ("create", 2, True), ("create", 4, True), ("update", 5, True), *everyone],
        "bob": [("create", 1, True), ("create", 2, True), ("update", 5, True), *everyone],
        "cy": [("create", 1, False), ("enter", 5, False), *everyone],
        "dee": [("create", 1, True), ("create", 3, True), ("enter", 5, True), *everyone],
        "anonymous": [("create", 1, False), ("enter", 5, False), *everyone],
        "master": [("create", n, True) for n in (1, 2, 3, 4)] + [("update", 5, True), *everyone],
    }
    assert {name: await frames_until(ws, 6) for name, ws in sockets.items()} == expected



async def test_pointer_permissions_and_role_acls_are_still_judged_per_user_in_one_fan_out(
    live_server: LiveServer, rest: httpx.AsyncClient, open_socket: SocketOpener,
) -> None:
    """Where a rule matches a user id against a row's value (pointer permissions), no two users are grouped."""
    users = {name: await sign_up(rest, name) for name in ("ada", "bob", "cy")}
    await add_role(rest, "Crew", users["ada"][0], users["bob"][0])
    clp = {"find": {"pointerFields": ["owner"]}, "get": {"pointerFields": ["owner"]}, "create": {"*": True},
           "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}}
    schema = await rest.post("/schemas/Chore", json={"className": "Chore", "classLevelPermissions": clp,
                                                      "fields": {"owner": {"type": "Pointer", "targetClass": "_User"}}})
    assert schema.status_code == 200, schema.text
    sockets: dict[str, LiveSocket] = {}
    for name, (_, token) in users.items():
        sockets[name] = await open_socket(live_server.url)
        await sockets[name].connect(sessionToken=token)
        assert (await sockets[name].subscribe(1, "Chore"))["op"] == "subscribed"

    def owner(name: str) -> dict[str, str]:
        return {"__type": "Pointer", "className": "_User", "objectId": users[name][0]}

    await create(rest, "Chore", {"n": 1, "owner": owner("ada"), **readable_by("role:Crew")})
    await create(rest, "Chore", {"n": 2, "owner": owner("bob"), **readable_by("*")})
    await create(rest, "Chore", {"n": 3, "owner": owner("cy"), **readable_by("role:Crew")})  # cy is not crew
    for name in users:
        await create(rest, "Chore", {"n": 4, "owner": owner(name), **readable_by("*")})
    expected = {"ada": [("create", 1, False), ("create", 4, False)],
                "bob": [("create", 2, False), ("create", 4, False)],
                "cy": [("create", 4, False)]}
    assert {name: await frames_until(ws, 4) for name, ws in sockets.items()} == expected
