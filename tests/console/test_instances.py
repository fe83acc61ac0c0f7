"""Two instances over one database and Redis: a request that waits on one shows up live on the other's console."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.console.conftest import ADMIN, MASTER, PASSWORD
from tests.realtime.conftest import RedisServer, redis_server  # noqa: F401 - the fixture, used by name
from tests.support.live import LiveServer
from tests.support.postgres import free_port


@pytest.fixture(params=[[], ["Order"]], ids=["every-class-live", "live-classes-limited"])
def two_instances(settings: Settings, redis_server: RedisServer,  # noqa: F811
                  request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    urls, servers = [], []
    for _ in range(2):
        port = free_port()
        # BALLAST_LIVE_QUERY_CLASSES without _Approval: the console's pings must cross instances all the same
        served = settings.model_copy(update={"port": port, "redis_url": redis_server.url,
                                             "live_query_classes": request.param,
                                             "server_url": f"http://127.0.0.1:{port}/parse"})
        servers.append(LiveServer(create_app(served), port).__enter__())
        urls.append(f"http://127.0.0.1:{port}")
    yield urls[0], urls[1]
    for server in servers:
        server.__exit__(None, None, None)


def _events_until(lines: Iterator[str], wanted: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    for line in lines:
        if line == wanted:
            return True
        if time.monotonic() > deadline:
            return False
    return False


def test_an_approval_asked_on_one_instance_pings_the_console_on_the_other(two_instances: tuple[str, str]) -> None:
    first, second = two_instances
    with httpx.Client(base_url=first, timeout=20) as console, httpx.Client(base_url=second, timeout=20) as other:
        assert console.post("/agent/v1/admin/admins", headers=MASTER,
                            json={"username": ADMIN, "password": PASSWORD}).status_code == 201
        assert console.post("/console/signin", data={"name": ADMIN, "secret": PASSWORD}).status_code == 303
        for n in range(4):
            assert other.post("/parse/classes/Order", headers=MASTER, json={"n": n}).status_code == 201
        made = other.post("/agent/v1/admin/agents", headers=MASTER, json={"name": "cleaner", "grants": ["*"]})
        bearer = {"Authorization": f"Bearer {made.json()['token']}"}
        with console.stream("GET", "/console/events") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert _events_until(lines, "retry: 2000", 5)
            asked = other.post("/agent/v1/write/bulk_delete", headers=bearer,
                               json={"className": "Order", "where": {}, "limit": 100})
            assert asked.status_code == 202, asked.text
            assert _events_until(lines, "event: approvals", 10)
        cards = console.get("/console/approvals/cards")
        assert asked.json()["approval"]["id"] in cards.text
