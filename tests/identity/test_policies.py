"""Account policies on both engines: lockout, password policy and history, unverified emails,
email verification and password reset through the mailed links, SMTP delivery (aiosmtpd)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from backend import wire
from backend.app import create_app
from backend.config import Settings
from backend.services.identity.mail import LogMailer, Mail, SmtpMailer
from tests.conftest import APP_ID, MASTER_KEY
from tests.support.postgres import free_port

H = {"X-Parse-Application-Id": APP_ID}


def me(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


@pytest.fixture
async def policy_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={
        "account_lockout_threshold": 3, "account_lockout_duration": 2,
        "password_policy_pattern": r"^(?=.*\d).{6,}$", "password_history": 2,
        "verify_user_emails": True, "prevent_login_with_unverified_email": True,
    }))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def policy_client(policy_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=policy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
        yield http


def last_link(app: FastAPI) -> str:
    mailer = app.state.services.identity.mailer
    assert isinstance(mailer, LogMailer) and mailer.sent
    link = re.search(r"https?://\S+", mailer.sent[-1].text)
    assert link is not None
    parts = urllib.parse.urlsplit(link.group(0))
    return parts.path.removeprefix("/parse") + "?" + parts.query


async def sign_up(client: httpx.AsyncClient, name: str, password: str = "secret1", **more: Any) -> dict[str, Any]:
    response = await client.post("/users", json={"username": name, "password": password, **more}, headers=H)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await client.post("/login", json={"username": name, "password": password}, headers=H)


async def test_brute_force_locks_the_account_until_the_lockout_ends(policy_client: httpx.AsyncClient,
                                                                    policy_app: FastAPI) -> None:
    await sign_up(policy_client, "target")
    for _ in range(3):
        assert (await login(policy_client, "target", "guess99")).json()["code"] == 101
    locked = await login(policy_client, "target", "secret1")
    assert locked.json()["code"] == 101 and "locked" in locked.json()["error"]
    services = policy_app.state.services
    async with services.db.unit() as unit:  # the two minutes pass
        schema = await services.schemas.require(unit, "_User")
        row = await services.identity.users.find_row(unit, _eq("username", "target"))
        await unit.session.update(schema, row["objectId"],
                                  {"_account_lockout_expires_at": wire.now() - timedelta(seconds=1)})
    assert (await login(policy_client, "target", "secret1")).status_code == 200


async def test_password_policy_and_history(policy_client: httpx.AsyncClient) -> None:
    weak = await policy_client.post("/users", json={"username": "weak", "password": "abc"}, headers=H)
    assert weak.json()["code"] == 142
    user = await sign_up(policy_client, "hist", "first1")
    update = f"/users/{user['objectId']}"
    assert (await policy_client.put(update, json={"password": "second2"}, headers=me(user["sessionToken"]))
            ).status_code == 200
    reuse = await policy_client.put(update, json={"password": "first1"}, headers=me(user["sessionToken"]))
    assert reuse.json()["code"] == 142
    same = await policy_client.put(update, json={"password": "second2"}, headers=me(user["sessionToken"]))
    assert same.json()["code"] == 142
    assert (await policy_client.put(update, json={"password": "third3"}, headers=me(user["sessionToken"]))
            ).status_code == 200


async def test_unverified_email_blocks_login_until_the_mailed_link_is_followed(
        policy_client: httpx.AsyncClient, policy_app: FastAPI) -> None:
    await sign_up(policy_client, "verify", email="verify@example.com")
    blocked = await login(policy_client, "verify", "secret1")
    assert blocked.json() == {"code": 205, "error": "User email is not verified."}
    link = last_link(policy_app)
    assert "/apps/test-app/verify_email?" in link
    forged = await policy_client.get(re.sub(r"token=[^&]+", "token=forged", link))
    assert forged.status_code == 400
    page = await policy_client.get(link)
    assert page.status_code == 200 and "verified" in page.text
    assert (await login(policy_client, "verify", "secret1")).status_code == 200
    again = await policy_client.post("/verificationEmailRequest", json={"email": "verify@example.com"}, headers=H)
    assert again.json()["code"] == -1
    unknown = await policy_client.post("/verificationEmailRequest", json={"email": "no@example.com"}, headers=H)
    assert unknown.json()["code"] == 205


async def test_password_reset_by_mailed_link_sets_the_password_and_ends_sessions(
        client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await sign_up(client, "forgetful", email="forgetful@example.com")
    assert (await client.post("/requestPasswordReset", json={"email": "forgetful@example.com"}, headers=H)
            ).json() == {}
    assert (await client.post("/requestPasswordReset", json={"email": "nobody@example.com"}, headers=H)
            ).json() == {}
    assert (await client.post("/requestPasswordReset", json={}, headers=H)).json()["code"] == 204
    link = last_link(app)
    form = await client.get(link)
    assert form.status_code == 200 and "new_password" in form.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    action = link.split("?")[0].replace("choose_password", "request_password_reset")
    done = await client.post(action, data={**query, "new_password": "brand-new-1"})
    assert done.status_code == 200, done.text
    assert (await client.get("/users/me", headers=me(user["sessionToken"]))).json()["code"] == 209
    assert (await login(client, "forgetful", "brand-new-1")).status_code == 200
    replay = await client.post(action, data={**query, "new_password": "again-2"})
    assert replay.status_code == 400  # the link works once


async def test_security_events_record_logins_signups_and_failures(client: httpx.AsyncClient) -> None:
    await sign_up(client, "audited")
    await login(client, "audited", "wrong")
    await login(client, "audited", "secret1")
    events = await client.get("/classes/_SecurityEvent", params={"order": "createdAt"},
                              headers={**H, "X-Parse-Master-Key": MASTER_KEY})
    kinds = [(e["event"], e["ok"]) for e in events.json()["results"]]
    assert kinds == [("user.signup", True), ("login", False), ("login", True)]
    assert all(e["ip"] for e in events.json()["results"])
    hidden = await client.get("/classes/_SecurityEvent", headers=H)
    assert hidden.json()["results"] == []
    first = events.json()["results"][0]["objectId"]
    tamper = await client.put(f"/classes/_SecurityEvent/{first}", json={"ok": False},
                              headers={**H, "X-Parse-Master-Key": MASTER_KEY})
    assert tamper.json()["code"] == 119


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_smtp_adapter_delivers_to_a_real_smtp_server(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    await SmtpMailer("127.0.0.1", port, "app@example.com").send(Mail("u@example.com", "Hello", "Body text"))
    assert inbox.messages[0][0] == "app@example.com" and inbox.messages[0][1] == ["u@example.com"]
    assert b"Body text" in inbox.messages[0][2]


async def test_reset_mail_goes_out_over_smtp_when_configured(settings: Settings,
                                                             smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    app = create_app(settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            await sign_up(http, "smtp", email="smtp@example.com")
            await http.post("/requestPasswordReset", json={"email": "smtp@example.com"}, headers=H)
    assert len(inbox.messages) == 1 and b"choose_password?token=" in inbox.messages[0][2]


def _eq(name: str, value: str) -> Any:
    from backend.services.identity.users import field_eq

    return field_eq(name, value)


async def test_acl_changes_are_security_events(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, "acl-owner")
    made = await client.post("/classes/Note", json={"ACL": {user["objectId"]: {"read": True, "write": True}}},
                             headers=me(user["sessionToken"]))
    await client.put(f"/classes/Note/{made.json()['objectId']}", json={"ACL": {"*": {"read": True}}},
                     headers=me(user["sessionToken"]))
    events = (await client.get("/classes/_SecurityEvent", params={"where": '{"event":"acl.change"}'},
                               headers={**H, "X-Parse-Master-Key": MASTER_KEY})).json()["results"]
    assert len(events) == 1 and events[0]["actor"] == user["objectId"]
    assert events[0]["details"]["after"] == {"*": {"read": True}}
    assert events[0]["target"] == f"Note/{made.json()['objectId']}"
