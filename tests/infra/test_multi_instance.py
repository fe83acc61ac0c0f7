"""Same code, both ways: the local multi-instance launcher (PostgreSQL, Redis, 2 instances, nginx) end to end.

The deployment is started by infra/local/multi.py exactly as a user would, and is driven over HTTP and
WebSockets from outside: through the balancer and each instance directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "infra" / "local" / "multi.py"
MASTER_KEY = "multi-instance-master-key"
APP_ID = "multi-app"


def launch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARSE_SERVER_MASTER_KEY": MASTER_KEY, "PARSE_SERVER_APPLICATION_ID": APP_ID}
    return subprocess.run([sys.executable, str(LAUNCHER), *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def refuses(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=1):
            return False
    except OSError:
        return True


async def live_socket(url: str) -> websockets.ClientConnection:
    """A LiveQuery client, connected with the master key and subscribed to every Game."""
    connection = await websockets.connect(url.replace("http://", "ws://", 1))
    await connection.send(json.dumps({"op": "connect", "applicationId": APP_ID, "masterKey": MASTER_KEY}))
    assert json.loads(await asyncio.wait_for(connection.recv(), 30))["op"] == "connected"
    await connection.send(json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": "Game", "where": {}}}))
    assert json.loads(await asyncio.wait_for(connection.recv(), 30))["op"] == "subscribed"
    return connection


async def next_event(connection: websockets.ClientConnection) -> dict[str, Any]:
    # the timeout only keeps a broken deployment from hanging the run; it asserts nothing about speed
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 30))
    return frame


async def exercise(urls: dict[str, Any]) -> None:
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    balancer, (first, second) = urls["balancer"], urls["instances"]
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        created = await http.post(f"{balancer}/classes/Score", json={"player": "ada", "points": 7})
        assert created.status_code == 201, created.text
        object_id = created.json()["objectId"]
        for instance in (first, second):  # one PostgreSQL behind both: each instance reads what nginx wrote
            read = await http.get(f"{instance}/classes/Score/{object_id}")
            assert read.status_code == 200, read.text
            assert read.json()["points"] == 7

        # a write on A reaches a subscriber on B (Redis fan-out) and one connected through nginx's WebSocket
        on_second, through_balancer = await live_socket(second), await live_socket(balancer)
        try:
            saved = await http.post(f"{first}/classes/Game", json={"name": "chess"})
            assert saved.status_code == 201, saved.text
            for connection in (on_second, through_balancer):
                event = await next_event(connection)
                assert event["op"] == "create"
                assert event["object"]["objectId"] == saved.json()["objectId"]
                assert event["object"]["name"] == "chess"
        finally:
            await on_second.close()
            await through_balancer.close()

        # the MCP face is proxied too: an unauthenticated call gets its OAuth challenge, not an nginx error
        mcp = await http.post(urls["mcp"], json={}, headers={"Accept": "application/json, text/event-stream"})
        assert mcp.status_code == 401
        assert "resource_metadata" in mcp.headers.get("www-authenticate", "")


def test_two_instances_behind_nginx_share_data_and_live_query_and_stop_cleanly(tmp_path: Path) -> None:
    base = tmp_path / "deploy"
    started = launch("start", "--instances", "2", "--dir", str(base), "--json")
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        assert MASTER_KEY not in started.stdout + started.stderr  # a key from the environment is never echoed
        urls = json.loads(started.stdout)
        asyncio.run(exercise(urls))
    finally:
        stopped = launch("stop", "--dir", str(base))
    assert stopped.returncode == 0, stopped.stderr
    assert not (base / "state.json").exists()
    for url in (urls["balancer"], *urls["instances"], urls["redis"].rsplit("/", 1)[0], urls["postgres"]):
        assert refuses(url), f"{url} still answers after stop"
