"""Users and sessions over the REST API, on both engines: sign up, log in, me, log out, sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import APP_ID

H = {"X-Parse-Application-Id": APP_ID}
# hashes made by Parse Server's own libraries (bcryptjs and @node-rs/bcrypt, cost 10)
PARSE_SERVER_HASHES = {
    "$2b$10$wLBH86psXEEf94uD1EizL.0Nw2WcayOXDdT7LmtNx3jYVEn/eyGFG": "parse-secret",
    "$2y$10$ZoDgYwwwjnX1oV/BttX2h.7TXUxD8Y4znBCRDkCGaq72z0zA9KZj.": "parse-secret",
    "$2b$10$83uzbBsEdp4oTTFXF4yKsO8qmc13IkqthQGx9aOg.w3U29i7ml48e": "pässwörd-ünïcode",
    # older Parse Servers wrote $2a$: the same algorithm for these inputs
    "$2a$10$wLBH86psXEEf94uD1EizL.0Nw2WcayOXDdT7LmtNx3jYVEn/eyGFG": "parse-secret",
}


def as_user(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


async def sign_up(client: httpx.AsyncClient, name: str, password: str = "pw-1234", **more: object) -> dict[str, Any]:
    response = await client.post("/users", json={"username": name, "password": password, **more}, headers=H)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sign_up_answers_201_with_a_revocable_session_token(client: httpx.AsyncClient) -> None:
    body = await sign_up(client, "alice", email="alice@example.com")
    assert set(body) == {"objectId", "createdAt", "sessionToken"}
    assert body["sessionToken"].startswith("r:") and len(body["sessionToken"]) == 34
    me = (await client.get("/users/me", headers=as_user(body["sessionToken"]))).json()
    assert me["username"] == "alice" and me["email"] == "alice@example.com"
    assert me["sessionToken"] == body["sessionToken"]
    assert "password" not in me and not any(key.startswith("_") for key in me)


async def test_creating_a_user_through_classes_is_a_sign_up_with_a_session(client: httpx.AsyncClient) -> None:
    made = await client.post("/classes/_User", json={"username": "carol", "password": "pw"}, headers=H)
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"objectId", "createdAt", "sessionToken"}
    assert made.headers["location"].endswith(f"/users/{body['objectId']}")  # as parse-server names it
    me = (await client.get("/users/me", headers=as_user(body["sessionToken"]))).json()
    assert me["username"] == "carol" and me["objectId"] == body["objectId"]


async def test_log_in_get_and_post_then_log_out_revokes_the_token(client: httpx.AsyncClient) -> None:
    await sign_up(client, "bob", "s3cret!")
    got = await client.get("/login", params={"username": "bob", "password": "s3cret!"}, headers=H)
    assert got.status_code == 200 and got.json()["username"] == "bob"
    posted = await client.post("/login", json={"username": "bob", "password": "s3cret!"}, headers=H)
    token = posted.json()["sessionToken"]
    assert token != got.json()["sessionToken"]
    assert (await client.post("/logout", headers=as_user(token))).json() == {}
    again = await client.get("/users/me", headers=as_user(token))
    assert again.status_code == 400 and again.json() == {"code": 209, "error": "Invalid session token"}
    # the other session still works
    assert (await client.get("/users/me", headers=as_user(got.json()["sessionToken"]))).status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_101(client: httpx.AsyncClient) -> None:
    await sign_up(client, "carol")
    wrong = await client.post("/login", json={"username": "carol", "password": "nope"}, headers=H)
    unknown = await client.post("/login", json={"username": "nobody", "password": "nope"}, headers=H)
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json() == {"code": 101, "error": "Invalid username/password."}


async def test_missing_username_or_password_get_200_and_201(client: httpx.AsyncClient) -> None:
    no_name = await client.post("/users", json={"password": "x"}, headers=H)
    no_password = await client.post("/users", json={"username": "dave"}, headers=H)
    assert no_name.json()["code"] == 200 and no_password.json()["code"] == 201
    bad_email = await client.post("/users", json={"username": "d", "password": "x", "email": "not-an-email"}, headers=H)
    assert bad_email.json()["code"] == 125


async def test_username_and_email_collisions_are_202_and_203_case_insensitively(client: httpx.AsyncClient) -> None:
    await sign_up(client, "Erin", email="erin@example.com")
    taken = await client.post("/users", json={"username": "erin", "password": "x"}, headers=H)
    assert taken.json() == {"code": 202, "error": "Account already exists for this username."}
    email = await client.post("/users", json={"username": "erin2", "password": "x", "email": "ERIN@example.com"},
                              headers=H)
    assert email.json() == {"code": 203, "error": "Account already exists for this email address."}


async def test_concurrent_sign_ups_of_one_username_let_exactly_one_win(client: httpx.AsyncClient,
                                                                        master_headers: dict[str, str]) -> None:
    responses = await asyncio.gather(*(
        client.post("/users", json={"username": "race", "password": f"pw{i}"}, headers=H) for i in range(6)
    ))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [400] * 5
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {202}
    # users are private (Parse 9): only the master key sees that exactly one exists
    found = (await client.get("/users", params={"where": '{"username":"race"}'}, headers=master_headers)).json()
    assert len(found["results"]) == 1


async def test_bcrypt_hashes_exported_from_parse_server_log_in(client: httpx.AsyncClient, app: FastAPI) -> None:
    services = app.state.services
    for number, (hashed, password) in enumerate(PARSE_SERVER_HASHES.items()):
        user = await sign_up(client, f"imported{number}", "placeholder")
        async with services.db.unit() as unit:  # what an import of Parse Server's _User table leaves
            schema = await services.schemas.require(unit, "_User")
            await unit.session.update(schema, user["objectId"], {"_hashed_password": hashed})
        ok = await client.post("/login", json={"username": f"imported{number}", "password": password}, headers=H)
        assert ok.status_code == 200, (hashed, ok.text)
        bad = await client.post("/login", json={"username": f"imported{number}", "password": password + "x"},
                                headers=H)
        assert bad.json()["code"] == 101


async def test_password_change_revokes_the_other_sessions_only(client: httpx.AsyncClient) -> None:
    first = await sign_up(client, "frank", "old-pw")
    second = (await client.post("/login", json={"username": "frank", "password": "old-pw"}, headers=H)).json()
    changed = await client.put(f"/users/{first['objectId']}", json={"password": "new-pw"},
                               headers=as_user(first["sessionToken"]))
    assert changed.status_code == 200, changed.text
    assert (await client.get("/users/me", headers=as_user(first["sessionToken"]))).status_code == 200
    assert (await client.get("/users/me", headers=as_user(second["sessionToken"]))).json()["code"] == 209
    old = await client.post("/login", json={"username": "frank", "password": "old-pw"}, headers=H)
    assert old.json()["code"] == 101
    new = await client.post("/login", json={"username": "frank", "password": "new-pw"}, headers=H)
    assert new.status_code == 200


async def test_other_users_cannot_change_or_see_private_parts_of_a_user(client: httpx.AsyncClient) -> None:
    # users are private (Parse 9); gina makes herself readable, and her email still never shows to others
    gina = await sign_up(client, "gina", email="gina@example.com", ACL={"*": {"read": True}})
    hank = await sign_up(client, "hank")
    hidden_user = await client.get(f"/users/{hank['objectId']}", headers=as_user(gina["sessionToken"]))
    assert hidden_user.status_code == 404
    seen = (await client.get(f"/users/{gina['objectId']}", headers=as_user(hank["sessionToken"]))).json()
    assert seen["username"] == "gina" and "email" not in seen and "sessionToken" not in seen
    anon = (await client.get("/users", headers=H)).json()["results"]
    assert [user["username"] for user in anon] == ["gina"] and all("email" not in user for user in anon)
    edit = await client.put(f"/users/{gina['objectId']}", json={"username": "pwned"},
                            headers=as_user(hank["sessionToken"]))
    assert edit.status_code == 400 and edit.json() == {"code": 206, "error": "Insufficient auth."}  # as Parse
    query = await client.get("/users", params={"where": '{"email":"gina@example.com"}'}, headers=H)
    assert query.json()["code"] == 119
    hidden = await client.get("/users", params={"where": '{"_hashed_password":{"$exists":true}}'}, headers=H)
    assert hidden.json()["code"] == 105


async def test_sessions_me_and_session_list_show_only_own_sessions(client: httpx.AsyncClient) -> None:
    ivy = await sign_up(client, "ivy")
    await sign_up(client, "jack")
    me = (await client.get("/sessions/me", headers=as_user(ivy["sessionToken"]))).json()
    assert me["sessionToken"] == ivy["sessionToken"] and me["user"]["objectId"] == ivy["objectId"]
    assert me["createdWith"] == {"action": "signup", "authProvider": "password"}
    listed = (await client.get("/sessions", headers=as_user(ivy["sessionToken"]))).json()["results"]
    assert [s["objectId"] for s in listed] == [me["objectId"]]
    forged = await client.put(f"/sessions/{me['objectId']}", json={"expiresAt": {"__type": "Date",
                              "iso": "2100-01-01T00:00:00.000Z"}}, headers=as_user(ivy["sessionToken"]))
    assert forged.status_code == 400 and forged.json()["code"] == 119
    revoked = await client.delete(f"/sessions/{me['objectId']}", headers=as_user(ivy["sessionToken"]))
    assert revoked.status_code == 200
    assert (await client.get("/users/me", headers=as_user(ivy["sessionToken"]))).json()["code"] == 209


async def test_forged_token_gets_209(client: httpx.AsyncClient) -> None:
    for token in ("r:" + "0" * 32, "garbage", "r:" + "a" * 5000):
        response = await client.get("/classes/Thing", headers=as_user(token))
        assert response.json() == {"code": 209, "error": "Invalid session token"}


async def test_upgrade_to_revocable_session_issues_a_new_token(client: httpx.AsyncClient) -> None:
    kim = await sign_up(client, "kim")
    upgraded = (await client.post("/upgradeToRevocableSession", headers=as_user(kim["sessionToken"]))).json()
    assert upgraded["sessionToken"].startswith("r:") and upgraded["sessionToken"] != kim["sessionToken"]
    assert (await client.get("/users/me", headers=as_user(upgraded["sessionToken"]))).status_code == 200


async def test_delete_user_ends_its_sessions(client: httpx.AsyncClient) -> None:
    leo = await sign_up(client, "leo")
    gone = await client.delete(f"/users/{leo['objectId']}", headers=as_user(leo["sessionToken"]))
    assert gone.status_code == 200
    assert (await client.get("/users/me", headers=as_user(leo["sessionToken"]))).json()["code"] == 209
