"""``ballast serve --workers N``: N processes on one port, Redis carrying LiveQuery events between them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.realtime.conftest import RedisServer, SocketOpener
from tests.support.live import ballast_serve
from tests.support.postgres import free_port

BALLAST = str(Path(sys.executable).parent / "ballast")


def _environment(settings: Settings, url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PARSE_SERVER_", "BALLAST_"))}
    env |= {"PARSE_SERVER_APPLICATION_ID": APP_ID, "PARSE_SERVER_MASTER_KEY": MASTER_KEY,
            "BALLAST_DATA_DIR": str(settings.data_dir), "PARSE_SERVER_URL": url, "BALLAST_JOBS_ENABLED": "false"}
    if settings.database_uri:
        env["PARSE_SERVER_DATABASE_URI"] = settings.database_uri
    return env


@pytest.fixture
def two_workers(settings: Settings, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/parse"
    env = _environment(settings, url) | {"BALLAST_REDIS_URL": redis_server.url}
    with ballast_serve(["--port", str(port), "--workers", "2"], env, url):
        yield url


def test_more_than_one_worker_without_redis_is_refused_with_what_to_set(settings: Settings) -> None:
    port = free_port()
    done = subprocess.run([BALLAST, "serve", "--port", str(port), "--workers", "2"], timeout=60,
                          env=_environment(settings, f"http://127.0.0.1:{port}/parse"), capture_output=True, text=True)
    assert done.returncode == 2
    assert "BALLAST_REDIS_URL" in done.stderr


async def test_every_write_reaches_a_subscriber_whichever_worker_took_it(
    two_workers: str, open_socket: SocketOpener,
) -> None:
    socket = await open_socket(two_workers)
    assert (await socket.connect())["op"] == "connected"
    assert (await socket.subscribe(1, "Ping", {"round": 1}))["op"] == "subscribed"
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    created = []
    for n in range(20):  # a new connection each: the kernel hands them to both workers
        async with httpx.AsyncClient(base_url=two_workers, headers=headers) as rest:
            answer = await rest.post("/classes/Ping", json={"round": 1, "n": n})
            assert answer.status_code == 201, answer.text
            created.append(answer.json()["objectId"])
    received = [await socket.recv() for _ in created]
    assert sorted(frame["object"]["objectId"] for frame in received) == sorted(created)
    assert {frame["op"] for frame in received} == {"create"}
    async with httpx.AsyncClient(base_url=two_workers, headers=headers) as rest:
        found = (await rest.get("/classes/Ping", params={"where": '{"round": 1}', "count": "1"})).json()
    assert found["count"] == 20
