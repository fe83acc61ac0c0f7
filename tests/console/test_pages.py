"""The console over plain HTTP (no browser): cookie flags over TLS, the sign-in rate limit, the event stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import APP_ID, MASTER_KEY

MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
PASSWORD = "correct horse battery"


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as http:
        made = await http.post("/agent/v1/admin/admins", headers=MASTER,
                               json={"username": "alice", "password": PASSWORD})
        assert made.status_code == 201, made.text
        yield http


async def test_over_tls_the_session_cookie_is_secure_httponly_and_strict(web: httpx.AsyncClient) -> None:
    signed = await web.post("/console/signin", data={"name": "alice", "secret": PASSWORD})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert all(flag in cookie for flag in ("httponly", "secure", "samesite=strict", "path=/console"))
    assert MASTER_KEY not in signed.text and MASTER_KEY.lower() not in cookie


async def test_sign_in_attempts_are_rate_limited_per_address(web: httpx.AsyncClient) -> None:
    codes = [(await web.post("/console/signin", data={"name": "alice", "secret": "wrong guess"})).status_code
             for _ in range(12)]
    # 10 a minute, counted over a sliding window (limits' approximation may let one more through at a
    # minute's edge): then refused, before any password is checked
    assert codes[:10] == [401] * 10 and codes[-1] == 429, codes
    right = await web.post("/console/signin", data={"name": "alice", "secret": PASSWORD})
    assert right.status_code == 429  # the right password too, until the window passes


async def test_the_event_stream_and_fragments_need_a_session(web: httpx.AsyncClient) -> None:
    for path in ("/console/events", "/console/approvals/cards", "/console/jobs/runs"):
        answer = await web.get(path)
        assert answer.status_code in (303, 403), path
        assert "pending" not in answer.text
    forged = await web.get("/console/events", headers={"Cookie": "ballast_console=bsa_forged"})
    assert forged.status_code == 403


async def test_a_bad_form_gets_a_clear_answer_not_a_500(web: httpx.AsyncClient) -> None:
    await web.post("/console/signin", data={"name": "alice", "secret": PASSWORD})
    page = await web.get("/console/agents")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    bad = await web.post("/console/policy", data={"csrf": csrf, "config": "[1, 2"})
    assert bad.status_code == 400 and "JSON object" in bad.text
    huge = await web.post("/console/agents", data={"csrf": csrf, "name": "x" * 5000})
    assert huge.status_code in (400, 422)
    bulk = await web.post("/console/approvals/bulk", data={"csrf": csrf, "action": "explode", "ids": ["a"]})
    assert bulk.status_code == 200 and "Choose approve or deny." in bulk.text
    missing = await web.post("/console/approvals/nothere/approve", data={"csrf": csrf})
    assert missing.status_code == 200 and "refused" in missing.text
