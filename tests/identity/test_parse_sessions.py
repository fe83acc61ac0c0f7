"""Users and sessions where Parse Server 9 answers in a way its SDKs rely on (issue 17), both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}


def as_user(token: str, installation: str | None = None) -> dict[str, str]:
    extra = {"X-Parse-Installation-Id": installation} if installation else {}
    return {**H, "X-Parse-Session-Token": token, **extra}


async def sign_up(client: httpx.AsyncClient, name: str, password: str = "pw-1234") -> dict[str, Any]:
    made = await client.post("/users", json={"username": name, "password": password}, headers=H)
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def log_in(client: httpx.AsyncClient, name: str, installation: str | None = None,
                 password: str = "pw-1234") -> str:
    headers = {**H, "X-Parse-Installation-Id": installation} if installation else H
    answer = await client.post("/login", json={"username": name, "password": password}, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["sessionToken"])


async def alive(client: httpx.AsyncClient, token: str) -> bool:
    return (await client.get("/users/me", headers=as_user(token))).status_code == 200


async def test_get_of_own_user_carries_the_callers_session_token(client: httpx.AsyncClient) -> None:
    me = await sign_up(client, "owner")
    other = await sign_up(client, "other")
    for path in (f"/users/{me['objectId']}", f"/classes/_User/{me['objectId']}"):
        own = (await client.get(path, headers=as_user(me["sessionToken"]))).json()
        assert own["sessionToken"] == me["sessionToken"] and own["username"] == "owner"
        seen = (await client.get(path, headers=as_user(other["sessionToken"]))).json()
        assert "sessionToken" not in seen, "another user's get must never carry a token"
        assert "sessionToken" not in (await client.get(path, headers=MASTER)).json()
    listed = (await client.get("/users", headers=as_user(me["sessionToken"]))).json()["results"]
    assert all("sessionToken" not in user for user in listed)


async def test_log_in_from_an_installation_replaces_its_older_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "phone")
    first = await log_in(client, "phone", "install-1")
    elsewhere = await log_in(client, "phone", "install-2")
    second = await log_in(client, "phone", "install-1")
    assert not await alive(client, first)
    assert await alive(client, second) and await alive(client, elsewhere)
    await sign_up(client, "friend")
    friend = await log_in(client, "friend", "install-1")  # another user on the same device keeps both
    assert await alive(client, friend) and await alive(client, second)


async def test_master_key_password_set_ends_the_users_sessions(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, "reset-me")
    changed = await client.put(f"/users/{user['objectId']}", json={"password": "new-pw"}, headers=MASTER)
    assert changed.status_code == 200, changed.text
    assert not await alive(client, user["sessionToken"])


@pytest.fixture
async def keep_sessions(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"revoke_session_on_password_reset": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


async def test_revoke_session_on_password_reset_off_keeps_every_session(
    keep_sessions: httpx.AsyncClient,
) -> None:
    user = await sign_up(keep_sessions, "keeper")
    other = await log_in(keep_sessions, "keeper")
    by_master = await keep_sessions.put(f"/users/{user['objectId']}", json={"password": "pw-2"}, headers=MASTER)
    assert by_master.status_code == 200, by_master.text
    by_self = await keep_sessions.put(f"/users/{user['objectId']}", json={"password": "pw-3"},
                                      headers=as_user(user["sessionToken"]))
    assert by_self.status_code == 200, by_self.text
    assert await alive(keep_sessions, user["sessionToken"]) and await alive(keep_sessions, other)


async def test_anonymous_sign_up_answers_username_and_auth_data_response(client: httpx.AsyncClient) -> None:
    body = {"authData": {"anonymous": {"id": "5b8f2f0e-anon"}}}
    made = await client.post("/users", json=body, headers=H)
    assert made.status_code == 201, made.text
    user = made.json()
    assert isinstance(user["username"], str) and len(user["username"]) >= 20
    assert user["authDataResponse"] == {} and user["sessionToken"].startswith("r:")
    again = await client.post("/users", json=body, headers=H)
    assert again.status_code == 200 and again.json()["objectId"] == user["objectId"]
    assert again.json()["authDataResponse"] == {}


async def test_anonymous_user_signing_up_loses_its_anonymous_auth_data(client: httpx.AsyncClient) -> None:
    anon = (await client.post("/users", json={"authData": {"anonymous": {"id": "anon-2"}}}, headers=H)).json()
    token = anon["sessionToken"]
    upgrade = {"username": "now-real", "password": "pw-real", "authData": {"anonymous": None}}
    saved = await client.put(f"/users/{anon['objectId']}", json=upgrade, headers=as_user(token))
    assert saved.status_code == 200, saved.text
    me = (await client.get("/users/me", headers=as_user(token))).json()
    assert me["username"] == "now-real" and "authData" not in me
    assert (await client.post("/login", json={"username": "now-real", "password": "pw-real"},
                              headers=H)).status_code == 200
    again = await client.post("/users", json={"authData": {"anonymous": {"id": "anon-2"}}}, headers=H)
    assert again.status_code == 201 and again.json()["objectId"] != anon["objectId"]
