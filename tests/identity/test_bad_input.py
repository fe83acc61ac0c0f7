"""Bad input to the identity routes gets a Parse error, never a 500, and changes nothing (both engines)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}


async def test_an_expired_session_token_gets_209(client: httpx.AsyncClient) -> None:
    user = (await client.post("/users", json={"username": "old", "password": "pw"}, headers=H)).json()
    token = {**H, "X-Parse-Session-Token": user["sessionToken"]}
    session = (await client.get("/sessions/me", headers=token)).json()
    past = {"__type": "Date", "iso": "2001-01-01T00:00:00.000Z"}
    assert (await client.put(f"/sessions/{session['objectId']}", json={"expiresAt": past}, headers=M)).status_code \
        == 200
    assert (await client.get("/users/me", headers=token)).json() == {"code": 209, "error": "Invalid session token"}


@pytest.mark.parametrize("body, code", [
    ({"username": "u" * 300, "password": "pw"}, 200),
    ({"username": "big", "password": "p" * 5000}, 142),
    ({"username": "big", "password": 12345}, 111),
    ({"username": ["list"], "password": "pw"}, 111),
    ({"username": "mail", "password": "pw", "email": "a@" + "b" * 400 + ".com"}, 125),
    ({"username": "hack", "password": "pw", "emailVerified": True}, 119),
    ({"username": "hidden", "password": "pw", "_hashed_password": "x"}, 105),
])
async def test_bad_sign_ups_are_refused_and_leave_no_user(client: httpx.AsyncClient, body: dict[str, object],
                                                          code: int) -> None:
    response = await client.post("/users", json=body, headers=H)
    assert response.status_code == 400 and response.json()["code"] == code, response.text
    assert (await client.get("/users", headers=M)).json()["results"] == []


@pytest.mark.parametrize("body", [{}, {"username": "x"}, {"password": "x"}, {"username": 5, "password": "x"},
                                  {"username": "x", "password": ["x"]}])
async def test_bad_log_ins_get_parse_errors(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/login", json=body, headers=H)
    assert response.status_code == 400 and response.json()["code"] in (200, 201), response.text


async def test_sessions_cannot_be_forged_by_clients(client: httpx.AsyncClient) -> None:
    user = (await client.post("/users", json={"username": "forger", "password": "pw"}, headers=H)).json()
    token = {**H, "X-Parse-Session-Token": user["sessionToken"]}
    made = await client.post("/classes/_Session", json={"sessionToken": "r:" + "1" * 32,
                                                        "user": {"__type": "Pointer", "className": "_User",
                                                                 "objectId": user["objectId"]}}, headers=token)
    assert made.json()["code"] == 119
    assert (await client.get("/users/me", headers={**H, "X-Parse-Session-Token": "r:" + "1" * 32})).json()[
        "code"] == 209


async def test_a_password_written_through_classes_is_hashed_never_stored_plain(client: httpx.AsyncClient) -> None:
    made = await client.post("/classes/_User", json={"username": "direct", "password": "plain-pw"}, headers=H)
    assert made.status_code == 201, made.text
    row = (await client.get(f"/classes/_User/{made.json()['objectId']}", headers=M)).json()
    assert "password" not in row and "_hashed_password" not in row
    assert (await client.post("/login", json={"username": "direct", "password": "plain-pw"}, headers=H)
            ).status_code == 200
