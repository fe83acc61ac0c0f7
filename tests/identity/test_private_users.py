"""Parse 9's private users on both engines: a new user is readable and writable by itself only
(enforcePrivateUsers), a sign-up's own ACL gains the user's read and write, and the option turns it off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"jobs_enabled": False, "bcrypt_rounds": 4, **changes}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


async def sign_up(http: httpx.AsyncClient, name: str, **more: Any) -> dict[str, Any]:
    answer = await http.post("/users", json={"username": name, "password": "pw", **more}, headers=H)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def as_user(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


async def test_new_users_are_readable_by_themselves_only(settings: Settings) -> None:
    async with serving(settings) as http:
        ann, bob = await sign_up(http, "ann"), await sign_up(http, "bob")
        assert (await http.get("/users", headers=H)).json()["results"] == []
        assert (await http.get("/classes/_User", params={"count": "1"}, headers=H)).json()["count"] == 0
        hidden = await http.get(f"/users/{ann['objectId']}", headers=as_user(bob["sessionToken"]))
        assert (hidden.status_code, hidden.json()["code"]) == (404, 101)
        refused = await http.put(f"/users/{ann['objectId']}", json={"username": "x"},
                                 headers=as_user(bob["sessionToken"]))
        assert (refused.status_code, refused.json()["code"]) == (400, 206)  # as Parse: "Insufficient auth."
        mine = await http.get("/users", headers=as_user(ann["sessionToken"]))
        assert [u["username"] for u in mine.json()["results"]] == ["ann"]
        stored = (await http.get(f"/users/{ann['objectId']}", headers=M)).json()
        assert stored["ACL"] == {ann["objectId"]: {"read": True, "write": True}}
        assert stored["username"] == "ann"  # the refused rename changed nothing
        assert len((await http.get("/users", headers=M)).json()["results"]) == 2


async def test_a_sign_up_with_its_own_acl_keeps_it_and_gains_its_own_access(settings: Settings) -> None:
    async with serving(settings) as http:
        ann = await sign_up(http, "ann", ACL={"*": {"read": True}})
        stored = (await http.get(f"/users/{ann['objectId']}", headers=M)).json()
        assert stored["ACL"] == {"*": {"read": True}, ann["objectId"]: {"read": True, "write": True}}
        assert [u["username"] for u in (await http.get("/users", headers=H)).json()["results"]] == ["ann"]
        locked = await sign_up(http, "cid", ACL={})
        assert (await http.get(f"/users/{locked['objectId']}", headers=M)).json()["ACL"] == {
            locked["objectId"]: {"read": True, "write": True}}


async def test_users_made_with_the_master_key_are_private_too(settings: Settings) -> None:
    async with serving(settings) as http:
        made = (await http.post("/classes/_User", json={"username": "dan", "password": "pw"}, headers=M)).json()
        assert (await http.get(f"/users/{made['objectId']}", headers=H)).status_code == 404
        assert (await http.get(f"/users/{made['objectId']}", headers=M)).json()["ACL"] == {
            made["objectId"]: {"read": True, "write": True}}


async def test_the_option_makes_users_public_again(settings: Settings) -> None:
    async with serving(settings, enforce_private_users=False) as http:
        ann = await sign_up(http, "ann")
        assert [u["username"] for u in (await http.get("/users", headers=H)).json()["results"]] == ["ann"]
        assert (await http.get(f"/users/{ann['objectId']}", headers=M)).json()["ACL"] == {
            "*": {"read": True}, ann["objectId"]: {"read": True, "write": True}}
