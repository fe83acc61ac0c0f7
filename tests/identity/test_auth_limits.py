"""Log-in storms on both engines: the default auth rate limits (Parse's rateLimit shape, 429 / code 100), by
address and by username, shared through Redis; and a log-in's bcrypt never holding the writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pydantic
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.config import DEFAULT_RATE_LIMITS, Settings
from backend.services.shared.rate_limits import RateCounter, RequestLimits
from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}
TOO_MANY = {"code": 100, "error": "Too many requests."}


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # bcrypt at its lowest cost: the counts are under test here, and every attempt must fall in one window
    app = create_app(settings.model_copy(update={"jobs_enabled": False, "bcrypt_rounds": 4, **changes}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield app, http


async def login(http: httpx.AsyncClient, username: str, password: str = "wrong") -> httpx.Response:
    return await http.post("/login", json={"username": username, "password": password}, headers=H)


async def test_guessing_one_username_is_refused_after_ten_tries_and_nothing_else_is(settings: Settings) -> None:
    async with serving(settings, account_lockout_threshold=11) as (_, http):
        assert (await http.post("/users", json={"username": "ann", "password": "right"}, headers=H)).status_code == 201
        assert [(await login(http, "ann")).status_code for _ in range(10)] == [404] * 10
        refused = await login(http, "ann", "right")  # the right password too: the count is of attempts
        assert (refused.status_code, refused.json()) == (429, TOO_MANY)
        assert (await http.get("/login", params={"username": "ANN ", "password": "x"}, headers=H)).status_code == 429
        # other users, other routes and the master key keep being served
        assert (await login(http, "bob")).status_code == 404
        assert (await http.post("/classes/Note", json={"n": 1}, headers=H)).status_code == 201
        # the refused attempts ran nothing: the lockout (at 11 failures) did not trip
        signed_in = await http.post("/login", json={"username": "ann", "password": "right"}, headers=M)
        assert signed_in.status_code == 200 and signed_in.json()["sessionToken"]


async def test_sign_ups_from_one_address_are_limited_and_refused_ones_write_nothing(settings: Settings) -> None:
    async with serving(settings) as (_, http):
        for n in range(60):
            created = await http.post("/users", json={"username": f"u{n}", "password": "pw"}, headers=H)
            assert created.status_code == 201, created.text
        refused = await http.post("/users", json={"username": "late", "password": "pw"}, headers=H)
        assert (refused.status_code, refused.json()) == (429, TOO_MANY)
        count = await http.get("/classes/_User", params={"count": "1", "limit": "0"}, headers=M)
        assert count.json()["count"] == 60
        assert (await http.get("/users", params={"where": '{"username":"late"}'}, headers=M)).json()["results"] == []
        assert (await http.post("/users", json={"username": "late", "password": "pw"}, headers=M)).status_code == 201


async def test_password_reset_and_verification_mail_are_limited_per_address(settings: Settings) -> None:
    async with serving(settings) as (_, http):
        for n in range(3):
            answer = await http.post("/requestPasswordReset", json={"email": "a@example.com"}, headers=H)
            assert answer.status_code == 200, (n, answer.text)
        refused = await http.post("/requestPasswordReset", json={"email": "A@example.com"}, headers=H)
        assert (refused.status_code, refused.json()) == (429, TOO_MANY)
        for n in range(6):  # other emails: with the refused one, the per-address count reaches 10
            assert (await http.post("/requestPasswordReset", json={"email": f"o{n}@x.io"}, headers=H)).status_code \
                == 200
        assert (await http.post("/requestPasswordReset", json={"email": "z@x.io"}, headers=H)).status_code == 429
        third = await http.post("/verificationEmailRequest", json={"email": "z@x.io"}, headers=H)
        assert third.json()["code"] == 205  # its own counter: not refused by the reset limit


async def test_rules_take_parse_server_rate_limit_options(settings: Settings) -> None:
    rules = [{"requestPath": "/functions/*", "requestTimeWindow": 60_000, "requestCount": 2,
              "errorResponseMessage": "Slow down.", "requestMethods": ["POST"], "includeMasterKey": True},
             {"requestPath": "/classes/:className", "requestTimeWindow": 60_000, "requestCount": 1,
              "requestMethods": "GET"}]
    async with serving(settings, rate_limit=rules) as (_, http):
        answers = [await http.post("/functions/nothing", json={}, headers=M) for _ in range(3)]
        assert all(a.status_code != 429 for a in answers[:2])
        assert (answers[2].status_code, answers[2].json()) == (429, {"code": 100, "error": "Slow down."})
        assert (await http.get("/classes/Note", headers=H)).status_code == 200
        assert (await http.get("/classes/Note", headers=H)).status_code == 429
        assert (await http.get("/classes/Note", headers=M)).status_code == 200  # master key exempt by default
        assert (await http.get("/classes/Note/abc", headers=H)).status_code == 404  # one segment only
        assert [(await login(http, "ann")).status_code for _ in range(12)] == [404] * 12  # no default rules left


@pytest.mark.parametrize("bad", [
    [{"requestPath": "/login", "requestTimeWindow": 0, "requestCount": 1}],
    [{"requestPath": "/login", "requestTimeWindow": 1000, "requestCount": 1, "zone": "planet"}],
    [{"requestPath": "/login", "requestTimeWindow": 1000, "requestCount": 1, "redisUrl": "redis://x"}],
])
def test_a_bad_rule_stops_the_server_at_start(settings: Settings, bad: list[dict[str, Any]]) -> None:
    with pytest.raises(pydantic.ValidationError):
        create_app(settings.model_copy(update={"rate_limit": bad}))


async def test_two_instances_count_together_through_redis(settings: Settings, redis_url: str) -> None:
    async with serving(settings, redis_url=redis_url) as (_, first), \
            serving(settings, redis_url=redis_url) as (_, second):
        name = f"shared{time.monotonic_ns()}"
        statuses = [(await login(first if n % 2 else second, name)).status_code for n in range(11)]
        assert statuses == [404] * 10 + [429]
        assert (await login(first, name + "x")).status_code == 404


async def test_a_wrong_password_storm_leaves_the_writer_free(settings: Settings) -> None:
    """bcrypt (cost 13 here: about a second) runs outside any transaction: writes go on meanwhile."""
    async with serving(settings, bcrypt_rounds=13, rate_limit=[]) as (_, http):
        assert (await http.post("/users", json={"username": "ann", "password": "right"}, headers=H)).status_code == 201
        storm = [asyncio.create_task(login(http, "ann")) for _ in range(2)]
        await asyncio.sleep(0.05)
        writes = [await http.post("/classes/Note", json={"n": n}, headers=H) for n in range(5)]
        assert [w.status_code for w in writes] == [201] * 5
        assert not any(task.done() for task in storm)  # five writes committed while both hashes still ran
        assert [(await task).status_code for task in storm] == [404, 404]


async def test_a_batch_cannot_go_around_the_limits(settings: Settings) -> None:
    """Each sub-request counts as if sent alone; one over a limit refuses the whole batch, which writes nothing."""
    async with serving(settings) as (_, http):
        def signups(first: int, count: int) -> dict[str, Any]:
            body = [{"username": f"b{n}", "password": "pw"} for n in range(first, first + count)]
            return {"requests": [{"method": "POST", "path": "/parse/classes/_User", "body": b} for b in body]}

        done = await http.post("/batch", json=signups(0, 50), headers=H)
        assert done.status_code == 200 and all("success" in r for r in done.json())
        refused = await http.post("/batch", json=signups(50, 20), headers=H)
        assert (refused.status_code, refused.json()) == (429, TOO_MANY)
        count = await http.get("/classes/_User", params={"count": "1", "limit": "0"}, headers=M)
        assert count.json()["count"] == 50
        direct = await http.post("/classes/_User", json={"username": "direct", "password": "pw"}, headers=H)
        assert (direct.status_code, direct.json()) == (429, TOO_MANY)
        assert (await http.post("/batch", json=signups(100, 5), headers=M)).status_code == 200  # master exempt


@pytest.mark.parametrize("rules", [
    [*DEFAULT_RATE_LIMITS, {"requestPath": "/classes/:className/*", "requestTimeWindow": 1000, "requestCount": 1},
     {"requestPath": "/functions/a|b", "requestTimeWindow": 1000, "requestCount": 1}],
    [{"requestPath": "*", "requestTimeWindow": 1000, "requestCount": 1}],
    [],
])
def test_the_one_pattern_of_all_rules_matches_a_path_exactly_when_a_rule_does(rules: list[dict[str, Any]]) -> None:
    limits = RequestLimits(rules, RateCounter(None, "test"))
    for path in ("/login", "/login/", "/loginx", "/users", "/classes/_User", "/classes/A/x/y", "/classes/A",
                 "/functions/a|b", "/functions/a", "/requestPasswordReset", "/x/login", "/", ""):
        any_rule = any(rule.path.fullmatch(path) for rule in limits.rules)
        assert (limits.any_path is not None and limits.any_path.fullmatch(path) is not None) == any_rule, path
