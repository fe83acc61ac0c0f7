"""Parse routes Ballast answers as Parse Server 9 does (issue 17): /verifyPassword, /loginAs,
/events/*, /push (no push adapter), both engines."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}


async def sign_up(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    made = await client.post("/users", json={"username": name, "password": "pw-1", "email": f"{name}@x.io"},
                             headers=H)
    return dict(made.json())


async def test_verify_password_answers_the_user_without_a_session(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, "vera")
    sessions_before = (await client.get("/sessions", headers=MASTER)).json()["results"]
    for answer in (await client.get("/verifyPassword", params={"username": "vera", "password": "pw-1"}, headers=H),
                   await client.post("/verifyPassword", json={"email": "vera@x.io", "password": "pw-1"}, headers=H)):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["objectId"] == user["objectId"] and "sessionToken" not in body
        assert not any(key.startswith("_") or key == "password" for key in body)
    assert len((await client.get("/sessions", headers=MASTER)).json()["results"]) == len(sessions_before)
    wrong = await client.post("/verifyPassword", json={"username": "vera", "password": "nope"}, headers=H)
    unknown = await client.post("/verifyPassword", json={"username": "nobody", "password": "nope"}, headers=H)
    assert wrong.json() == unknown.json() == {"code": 101, "error": "Invalid username/password."}
    assert (await client.post("/verifyPassword", json={"password": "x"}, headers=H)).json()["code"] == 200
    assert (await client.post("/verifyPassword", json={"username": "vera"}, headers=H)).json()["code"] == 201


async def test_login_as_needs_the_master_key_and_starts_a_session(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, "lars")
    other = await sign_up(client, "olga")
    as_user = {**H, "X-Parse-Session-Token": other["sessionToken"]}
    refused = await client.post("/loginAs", json={"userId": user["objectId"]}, headers=as_user)
    assert refused.json() == {"code": 119, "error": "master key is required"}
    assert (await client.post("/loginAs", json={}, headers=MASTER)).json()["code"] == 162
    assert (await client.post("/loginAs", json={"userId": "nope"}, headers=MASTER)).json() == {
        "code": 101, "error": "user not found"}
    answer = await client.post("/loginAs", json={"userId": user["objectId"]}, headers=MASTER)
    assert answer.status_code == 200, answer.text
    token = answer.json()["sessionToken"]
    assert answer.json()["username"] == "lars" and token != user["sessionToken"]
    me = await client.get("/users/me", headers={**H, "X-Parse-Session-Token": token})
    assert me.json()["objectId"] == user["objectId"]
    session = (await client.get("/sessions/me", headers={**H, "X-Parse-Session-Token": token})).json()
    assert session["createdWith"] == {"action": "login", "authProvider": "masterkey"}


async def test_analytics_events_are_accepted_and_dropped(client: httpx.AsyncClient) -> None:
    for name in ("AppOpened", "search"):
        answer = await client.post(f"/events/{name}", json={"dimensions": {"kind": "x"}}, headers=H)
        assert answer.status_code == 200 and answer.json() == {}
    assert (await client.post("/events/x", content=b"[", headers=H)).json()["code"] == 107


async def test_push_without_a_push_adapter_answers_as_parse(client: httpx.AsyncClient) -> None:
    body = {"where": {"deviceType": "ios"}, "data": {"alert": "hi"}}
    refused = await client.post("/push", json=body, headers=H)
    assert refused.status_code == 403
    answer = await client.post("/push", json=body, headers=MASTER)
    assert answer.status_code == 400 and answer.json() == {"code": 115, "error": "Missing push configuration"}
