"""Parse's idempotencyOptions (issue 17): with them set, a repeat on the listed paths is refused with 159
"Duplicate request", as parse-server does; BALLAST_IDEMPOTENCY_REPLAY keeps replaying there (both engines)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID

OPTIONS = {"paths": ["classes/.*", "functions/.*"], "ttl": 60}


@asynccontextmanager
async def serving(settings: Settings, **update: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as client:
            yield client


def with_id(request_id: str) -> dict[str, str]:
    return {"X-Parse-Application-Id": APP_ID, "X-Parse-Request-Id": request_id}


async def test_a_repeat_on_a_listed_path_is_159_and_runs_once(settings: Settings) -> None:
    async with serving(settings, experimental_idempotency_options=OPTIONS) as client:
        first = await client.post("/classes/Once", json={"n": 1}, headers=with_id("req-1"))
        again = await client.post("/classes/Once", json={"n": 1}, headers=with_id("req-1"))
        assert first.status_code == 201
        assert again.status_code == 400 and again.json() == {"code": 159, "error": "Duplicate request"}
        count = await client.get("/classes/Once", params={"count": 1, "limit": 0}, headers=with_id("x"))
        assert count.json()["count"] == 1
        users = [await client.post("/users", json={"username": f"u{n}", "password": "p"}, headers=with_id("req-2"))
                 for n in range(2)]
        assert [answer.status_code for answer in users] == [201, 201], "paths not listed are not kept"


async def test_replay_stays_available_as_an_option(settings: Settings) -> None:
    async with serving(settings, experimental_idempotency_options=OPTIONS, idempotency_replay=True) as client:
        answers = [await client.post("/classes/Twice", json={}, headers=with_id("req-3")) for _ in range(2)]
        assert answers[0].json() == answers[1].json() and answers[1].headers["x-parse-idempotent-replay"] == "true"


@pytest.mark.parametrize("bad", [{"paths": "classes"}, {"paths": ["("]}, {"paths": [], "ttl": -1}])
def test_bad_options_are_refused_at_start(settings: Settings, bad: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="idempotencyOptions"):
        create_app(settings.model_copy(update={"experimental_idempotency_options": bad}))
