"""A kept answer goes back only to the very request that earned it (same X-Parse-Request-Id AND same body).

Before: the key was the request id, method, path and the caller's key headers, not the body. Anyone who learned
the X-Parse-Request-Id of someone's ``POST /login`` got that user's session token back by repeating it with ANY
password within the TTL (replay is on for every write by default); a repeat with another body got the first
write's answer as if its own change had been made.
"""

from __future__ import annotations

import httpx

from tests.conftest import APP_ID


async def test_a_login_answer_is_not_replayed_to_another_password(client: httpx.AsyncClient,
                                                                  headers: dict[str, str]) -> None:
    signed = await client.post("/users", json={"username": "ann", "password": "right-pw"}, headers=headers)
    assert signed.status_code == 201, signed.text
    once = {**headers, "X-Parse-Request-Id": "login-req-1"}
    first = await client.post("/login", json={"username": "ann", "password": "right-pw"}, headers=once)
    assert first.status_code == 200, first.text
    token = first.json()["sessionToken"]
    stolen = await client.post("/login", json={"username": "ann", "password": "guess"}, headers=once)
    assert stolen.status_code == 400 and stolen.json() == {"code": 159, "error": "Duplicate request"}
    assert token not in stolen.text and "x-parse-idempotent-replay" not in stolen.headers
    # without the body: the same refusal (the answer is bound to what earned it)
    empty = await client.post("/login", headers=once)
    assert empty.status_code == 400 and token not in empty.text
    # the genuine retry (the same request) still gets its answer back
    retried = await client.post("/login", json={"username": "ann", "password": "right-pw"}, headers=once)
    assert retried.status_code == 200 and retried.json()["sessionToken"] == token
    assert retried.headers["x-parse-idempotent-replay"] == "true"


async def test_a_repeat_with_another_body_changes_nothing_and_says_so(client: httpx.AsyncClient,
                                                                      master_headers: dict[str, str]) -> None:
    created = await client.post("/classes/Order", json={"total": 5}, headers=master_headers)
    path = f"/classes/Order/{created.json()['objectId']}"
    once = {**master_headers, "X-Parse-Request-Id": "put-req-1"}
    first = await client.put(path, json={"total": 6}, headers=once)
    assert first.status_code == 200, first.text
    other = await client.put(path, json={"total": 7}, headers=once)
    assert other.status_code == 400 and other.json()["code"] == 159
    shown = await client.get(path, headers={"X-Parse-Application-Id": APP_ID, **master_headers})
    assert shown.json()["total"] == 6
