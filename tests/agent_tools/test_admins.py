"""Admin authority: the master key or a console admin, never an app user, a role or an agent (both engines)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.agent_tools.conftest import AGENT, Gateway, Seed

ADMIN = f"{AGENT}/admin"
PASSWORD = "correct horse battery"


async def _user_in_role(gateway: Gateway, headers: dict[str, str], role: str) -> tuple[str, str]:
    """A signed-up user who made a role of this name and put themselves in it (Parse allows both)."""
    signed = await gateway.http.post("/users", json={"username": "mallory", "password": "pw-mallory-1"},
                                     headers=headers)
    assert signed.status_code == 201, signed.text
    user_id, session = signed.json()["objectId"], signed.json()["sessionToken"]
    made = await gateway.http.post("/roles", headers=headers | {"X-Parse-Session-Token": session}, json={
        "name": role, "ACL": {user_id: {"read": True, "write": True}},
        "users": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User",
                                                      "objectId": user_id}]}})
    assert made.status_code == 201, made.text
    return user_id, session


async def _pending_delete(gateway: Gateway, seed: Seed) -> tuple[str, str, str]:
    """(object id, approval id, agent token) of an agent's delete waiting for approval."""
    counter = await seed("Counter", hits=0)
    _, token = await gateway.agent("bumper", grants=["*"])
    pending = await gateway.call(token, "write", "delete_object", {"className": "Counter",
                                                                   "objectId": counter["objectId"]})
    assert pending.status_code == 202, pending.text
    return counter["objectId"], pending.json()["approval"]["id"], token


async def _exists(gateway: Gateway, object_id: str) -> bool:
    answer = await gateway.http.get(f"/classes/Counter/{object_id}", headers=gateway.admin_headers)
    return answer.status_code == 200


async def _console_admin(gateway: Gateway, username: str = "alice", role: str = "admin") -> str:
    """A console admin made with the master key, signed in: its session token."""
    made = await gateway.admin("POST", "/admins", json={"username": username, "password": PASSWORD, "role": role})
    assert made.status_code == 201, made.text
    assert "passwordHash" not in made.text
    signed = await gateway.http.post(f"{ADMIN}/session", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    token: str = signed.json()["token"]
    return token


ADMIN_CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/agents", {"name": "minted", "grants": ["*"]}),
    ("PUT", "/policy", {"overCap": "allow"}),
    ("POST", "/intents", {"name": "sneaky", "tools": ["delete_object"]}),
    ("POST", "/admins", {"username": "mallory", "password": PASSWORD}),
]


async def _refused_everywhere(gateway: Gateway, approval_id: str, sent: dict[str, str], rule: str) -> None:
    attempts = [("POST", f"/approvals/{approval_id}/approve", None), ("POST", f"/approvals/{approval_id}/deny", {}),
                ("GET", "/audit", None), ("GET", "/agents", None), *ADMIN_CHANGES]
    for method, path, body in attempts:
        answer = await gateway.http.request(method, f"{ADMIN}{path}", json=body, headers=sent)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"].startswith(rule), answer.text


@pytest.mark.parametrize("role", ["admin", "Admin", "administrator", "agent-admin"])
async def test_a_user_who_made_an_admin_role_has_no_admin_power(gateway: Gateway, seed: Seed,
                                                                  headers: dict[str, str], role: str) -> None:
    object_id, approval_id, _ = await _pending_delete(gateway, seed)
    _, session = await _user_in_role(gateway, headers, role)
    await _refused_everywhere(gateway, approval_id, headers | {"X-Parse-Session-Token": session}, "admin.required")
    assert await _exists(gateway, object_id)
    shown = await gateway.admin("GET", f"/approvals/{approval_id}")
    assert shown.json()["status"] == "pending"
    assert [agent["name"] for agent in (await gateway.admin("GET", "/agents")).json()["results"]] == ["bumper"]
    assert (await gateway.admin("GET", "/admins")).json()["results"] == []
    assert (await gateway.verify())["ok"] is True


async def test_agent_credentials_never_administer_even_beside_the_master_key(
        gateway: Gateway, seed: Seed, headers: dict[str, str]) -> None:
    object_id, approval_id, token = await _pending_delete(gateway, seed)
    _, session = await _user_in_role(gateway, headers, "admin")
    for sent in ({"Authorization": f"Bearer {token}"},
                 {"Authorization": f"Bearer {token}", "X-Parse-Session-Token": session} | headers,
                 {"Authorization": f"Bearer {token}"} | gateway.admin_headers,
                 {"Authorization": "Bearer some-oauth-access-token"} | gateway.admin_headers,
                 {"X-Ballast-Delegation": "anything"} | gateway.admin_headers):
        await _refused_everywhere(gateway, approval_id, sent, "admin.agent_credentials")
    admin_token = await _console_admin(gateway)
    mixed = {"X-Ballast-Admin-Session": admin_token, "Authorization": f"Bearer {token}"}
    await _refused_everywhere(gateway, approval_id, mixed, "admin.agent_credentials")
    assert await _exists(gateway, object_id)
    assert (await gateway.verify())["ok"] is True


async def test_the_agent_cannot_reach_admin_power_through_the_parse_api(gateway: Gateway,
                                                                        headers: dict[str, str]) -> None:
    _, session = await _user_in_role(gateway, headers, "admin")
    as_user = headers | {"X-Parse-Session-Token": session}
    for class_name in ("_Admin", "_AdminSession"):
        made = await gateway.http.post(f"/classes/{class_name}", headers=as_user,
                                       json={"username": "mallory", "role": "admin", "passwordHash": "x"})
        assert made.status_code in (400, 403), made.text
    assert (await gateway.admin("GET", "/admins")).json()["results"] == []


async def test_a_console_admin_approves_and_the_records_name_it(gateway: Gateway, seed: Seed) -> None:
    object_id, approval_id, _ = await _pending_delete(gateway, seed)
    token = await _console_admin(gateway)
    for sent in ({"Authorization": f"Bearer {token}"}, {"X-Ballast-Admin-Session": token}):
        whoami = await gateway.http.get(f"{ADMIN}/session", headers=sent)
        assert whoami.json()["actor"] == "admin:alice" and whoami.json()["canChange"] is True
    approved = await gateway.http.post(f"{ADMIN}/approvals/{approval_id}/approve",
                                       headers={"Authorization": f"Bearer {token}"})
    assert approved.status_code == 200 and approved.json()["status"] == "executed", approved.text
    assert not await _exists(gateway, object_id)
    assert (await gateway.admin("GET", f"/approvals/{approval_id}")).json()["decidedBy"] == "admin:alice"
    events = await _security_events(gateway, "approval.approve")
    assert [(event["actor"], event["target"]) for event in events] == [("admin:alice", approval_id)]
    assert (await gateway.verify())["ok"] is True


async def _security_events(gateway: Gateway, event: str) -> list[dict[str, Any]]:
    found = await gateway.http.get("/classes/_SecurityEvent", params={"where": f'{{"event": "{event}"}}'},
                                   headers=gateway.admin_headers)
    assert found.status_code == 200, found.text
    results: list[dict[str, Any]] = found.json()["results"]
    return results


async def test_a_viewer_looks_but_does_not_change(gateway: Gateway, seed: Seed) -> None:
    object_id, approval_id, _ = await _pending_delete(gateway, seed)
    token = await _console_admin(gateway, "victor", role="viewer")
    sent = {"Authorization": f"Bearer {token}"}
    assert (await gateway.http.get(f"{ADMIN}/approvals/{approval_id}", headers=sent)).status_code == 200
    refused = await gateway.http.post(f"{ADMIN}/approvals/{approval_id}/approve", headers=sent)
    assert refused.status_code == 403 and refused.json()["error"].startswith("admin.read_only")
    assert await _exists(gateway, object_id)


async def test_console_admins_cannot_make_admins_and_bad_passwords_fail_alike(gateway: Gateway) -> None:
    token = await _console_admin(gateway)
    made = await gateway.http.post(f"{ADMIN}/admins", headers={"Authorization": f"Bearer {token}"},
                                   json={"username": "eve", "password": PASSWORD})
    assert made.status_code == 403 and made.json()["error"].startswith("admin.master_required")
    wrong = await gateway.http.post(f"{ADMIN}/session", json={"username": "alice", "password": "wrong password"})
    unknown = await gateway.http.post(f"{ADMIN}/session", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json() == {"code": 101, "error": "Invalid username/password."}
    assert [event["ok"] for event in await _security_events(gateway, "admin.login")].count(False) == 2


async def test_sign_out_disable_and_new_password_end_sessions(gateway: Gateway) -> None:
    first, second = await _console_admin(gateway), await _sign_in(gateway, "alice")
    out = await gateway.http.delete(f"{ADMIN}/session", headers={"X-Ballast-Admin-Session": first})
    assert out.json() == {"ended": True}
    assert (await _whoami(gateway, first)).status_code == 400
    assert (await _whoami(gateway, second)).status_code == 200
    changed = await gateway.admin("PUT", "/admins/alice/password", json={"password": "another long secret"})
    assert changed.status_code == 200, changed.text
    assert (await _whoami(gateway, second)).json()["code"] == 209
    third = await _sign_in(gateway, "alice", "another long secret")
    assert (await gateway.admin("POST", "/admins/alice/disable")).status_code == 200
    assert (await _whoami(gateway, third)).status_code == 400
    refused = await gateway.http.post(f"{ADMIN}/session", json={"username": "alice",
                                                                "password": "another long secret"})
    assert refused.status_code == 404


async def test_sign_in_is_rate_limited_per_address(gateway: Gateway) -> None:
    await _console_admin(gateway)
    statuses = [(await gateway.http.post(f"{ADMIN}/session", json={"username": "alice", "password": "guess"}))
                .status_code for _ in range(12)]
    assert statuses[:9] == [404] * 9 and statuses[-1] == 403


async def _sign_in(gateway: Gateway, username: str, password: str = PASSWORD) -> str:
    signed = await gateway.http.post(f"{ADMIN}/session", json={"username": username, "password": password})
    assert signed.status_code == 201, signed.text
    token: str = signed.json()["token"]
    return token


async def _whoami(gateway: Gateway, token: str) -> httpx.Response:
    return await gateway.http.get(f"{ADMIN}/session", headers={"X-Ballast-Admin-Session": token})
