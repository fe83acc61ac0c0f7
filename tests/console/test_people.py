"""Roles and users in the console (Debian's chromium, both engines): hierarchy and members, users, passwords,
sessions; every change a security record naming the admin; no Parse role, whatever its name, is admin power."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import APP_ID
from tests.console.conftest import MASTER, PASSWORD, VIEWER, Ballast, Form, sign_in
from tests.console.test_browser import shot

APP = {"X-Parse-Application-Id": APP_ID}


def _user(ballast: Ballast, name: str, **more: str) -> tuple[str, str]:
    """(id, session token) of a user who signed up through the Parse API."""
    made = ballast.http.post("/parse/users", json={"username": name, "password": f"pw-{name}-123", **more},
                             headers=APP)
    assert made.status_code == 201, made.text
    return made.json()["objectId"], made.json()["sessionToken"]


def _events(ballast: Ballast, event: str) -> list[dict[str, Any]]:
    found = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER,
                             params={"where": json.dumps({"event": event})})
    results: list[dict[str, Any]] = found.json()["results"]
    return results


def _me(ballast: Ballast, token: str) -> httpx.Response:
    return ballast.http.get("/parse/users/me", headers=APP | {"X-Parse-Session-Token": token})


def test_roles_members_and_child_roles_are_managed_from_the_console(page: Page, ballast: Ballast) -> None:
    bob_id, _ = _user(ballast, "bob")
    _user(ballast, "carol")
    sign_in(page)
    page.goto("/console/roles")
    for name in ("support", "managers"):
        page.get_by_label("Role name").fill(name)
        page.get_by_role("button", name="Create role").click()
        expect(page.get_by_role("status")).to_have_text(f"Role {name} created.")
    support = page.locator("tr[data-role='support']")
    for user in ("bob", "carol"):
        support.get_by_label("Add user to support").fill(user)
        support.get_by_role("button", name="Add").first.click()
    page.locator("tr[data-role='support']").get_by_label("Add child role to support").fill("managers")
    page.locator("tr[data-role='support']").get_by_role("button", name="Add").last.click()
    page.get_by_role("button", name="Remove user carol from support").click()
    support = page.locator("tr[data-role='support']")
    expect(support.locator("td.users")).to_contain_text("bob")
    expect(support.locator("td.users")).not_to_contain_text("carol")
    expect(support.locator("td.children")).to_contain_text("managers")
    shot(page, "roles")
    page.get_by_label("Role name").fill("bad/name")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("alert")).to_contain_text("role's name")
    where = json.dumps({"users": {"__type": "Pointer", "className": "_User", "objectId": bob_id}})
    held = ballast.http.get("/parse/roles", headers=MASTER, params={"where": where}).json()["results"]
    assert [role["name"] for role in held] == ["support"]
    changes = _events(ballast, "role.members") + _events(ballast, "role.create")
    assert len(changes) == 6 and {event["actor"] for event in changes} == {"admin:alice"}


def test_users_are_created_given_passwords_and_their_sessions_ended(page: Page, ballast: Ballast) -> None:
    dana_id, dana_session = _user(ballast, "dana", email="dana@example.com")
    sign_in(page)
    page.goto("/console/users")
    page.get_by_label("Username", exact=True).fill("erin")
    page.get_by_label("Password").fill("erin-pw-123")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User erin created.")
    login = ballast.http.post("/parse/login", json={"username": "erin", "password": "erin-pw-123"}, headers=APP)
    assert login.status_code == 200, login.text
    page.get_by_label("Username starts with").fill("da")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="dana").click()
    expect(page.get_by_role("heading", name="User dana")).to_be_visible()
    sessions = ballast.http.get("/parse/sessions", headers=MASTER).json()["results"]
    [dana_row] = [row for row in sessions if row["user"]["objectId"] == dana_id]
    expect(page.locator(f"#session-{dana_row['objectId']}")).to_be_visible()
    assert dana_session not in page.content()  # an admin ends sessions; it never sees their tokens
    shot(page, "user")
    page.get_by_role("button", name=f"End session {dana_row['objectId']}").click()
    expect(page.get_by_role("status")).to_contain_text("ended")
    assert _me(ballast, dana_session).json()["code"] == 209
    page.get_by_role("button", name="Send the reset mail").click()
    expect(page.get_by_role("status")).to_have_text("Password reset mail sent to dana@example.com.")
    page.get_by_label("New password").fill("dana-new-456")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("New password set")
    relogin = ballast.http.post("/parse/login", json={"username": "dana", "password": "dana-new-456"}, headers=APP)
    assert relogin.status_code == 200, relogin.text
    for event, target in (("session.revoke", dana_row["objectId"]), ("password.reset.request", dana_id),
                          ("password.change", dana_id)):
        assert [(e["actor"], e["target"]) for e in _events(ballast, event)] == [("admin:alice", target)], event
    [created] = _events(ballast, "user.create")
    assert (created["actor"], created["details"]["via"]) == ("admin:alice", "console")


def test_an_app_role_named_admin_grants_no_admin_power(page: Page, ballast: Ballast) -> None:
    eve_id, eve_session = _user(ballast, "eve")
    sign_in(page)
    page.goto("/console/roles")
    for name in ("admin", "console-admin", "Administrator"):
        page.get_by_label("Role name").fill(name)
        page.get_by_role("button", name="Create role").click()
        row = page.locator(f"tr[data-role='{name}']")
        row.get_by_label(f"Add user to {name}").fill("eve")
        row.get_by_role("button", name="Add").first.click()
        expect(page.locator(f"tr[data-role='{name}'] td.users")).to_contain_text("eve")
    browser = page.context.browser
    assert browser is not None  # a context made by a launched browser, not a persistent one
    other = browser.new_context(base_url=ballast.base)
    eve_page = other.new_page()
    sign_in(eve_page, "eve", "pw-eve-123")
    expect(eve_page.get_by_role("alert")).to_have_text("Sign-in failed.")
    as_eve = APP | {"X-Parse-Session-Token": eve_session}
    assert ballast.http.get("/agent/v1/admin/agents", headers=as_eve).status_code == 403
    for path in ("/console/roles", "/console/users", f"/console/users/{eve_id}"):
        eve_page.goto(path)
        assert eve_page.url.endswith("/console/signin"), path
    for path in ("/console/roles", "/console/roles/admin/users/add", "/console/users",
                 f"/console/users/{eve_id}/password"):
        answer = eve_page.request.post(path, form={"name": "eve", "username": "x", "password": "y"},
                                       headers={"X-Parse-Session-Token": eve_session})
        assert answer.status == 403, path
    other.close()


def test_changes_need_the_csrf_token_and_a_viewer_only_looks(page: Page, ballast: Ballast) -> None:
    frank_id, frank_session = _user(ballast, "frank")
    sign_in(page)
    changes: list[tuple[str, Form]] = [
        ("/console/roles", {"name": "sneaky"}), ("/console/users", {"username": "x", "password": "y"}),
        (f"/console/users/{frank_id}/password", {"mode": "set", "password": "taken-over-1"})]
    for path, form in changes:
        forged: tuple[Form, ...] = ({}, {"csrf": "forged"})
        for bad_csrf in forged:
            assert page.request.post(path, form=form | bad_csrf).status == 403, path
    assert ballast.http.get("/parse/roles", headers=MASTER).json()["results"] == []
    assert _me(ballast, frank_session).status_code == 200
    page.context.clear_cookies()
    sign_in(page, VIEWER, PASSWORD)
    page.goto(f"/console/users/{frank_id}")
    expect(page.get_by_role("heading", name="User frank")).to_be_visible()
    expect(page.get_by_role("button", name="Set password")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    refused = page.request.post(f"/console/users/{frank_id}/password", form={"csrf": csrf, "mode": "set",
                                                                            "password": "taken-over-1"})
    assert refused.status == 403
    assert _me(ballast, frank_session).status_code == 200
