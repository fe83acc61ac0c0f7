"""The Parse JS SDK's LiveQuery client reconnects and resubscribes after the server restarts on the same port."""

from __future__ import annotations

import os
import subprocess

import httpx

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.sdk.harness import SDK_DIR, node_binary
from tests.support.live import LiveServer
from tests.support.postgres import free_port


def wait_for_line(process: subprocess.Popen[str], expected: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:  # the script gives up by itself (TIMEOUT) if nothing comes
        if line.strip().startswith(expected) or line.strip() == "TIMEOUT":
            return line.strip()
    raise AssertionError(f"the SDK script ended before printing {expected}")


def test_the_sdk_client_resubscribes_after_a_server_restart(settings: Settings) -> None:
    port = free_port()
    served = settings.model_copy(update={"port": port, "server_url": f"http://127.0.0.1:{port}/parse"})
    env = {**os.environ, "PARSE_SERVER_URL": served.public_url, "PARSE_APP_ID": APP_ID,
           "PARSE_MASTER_KEY": MASTER_KEY, "LIVE_CLASS": "Restarted"}
    script: subprocess.Popen[str] | None = None
    try:
        with LiveServer(create_app(served), port):
            script = subprocess.Popen([node_binary(), str(SDK_DIR / "livequery_reconnect.mjs")], cwd=SDK_DIR,
                                      env=env, stdout=subprocess.PIPE, text=True)
            assert wait_for_line(script, "READY") == "READY"
        with LiveServer(create_app(served), port):  # a new server on the same port and data
            assert wait_for_line(script, "RESUBSCRIBED") == "RESUBSCRIBED"
            headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
            created = httpx.post(f"{served.public_url}/classes/Restarted", json={"n": 1}, headers=headers)
            assert wait_for_line(script, "CREATE") == f"CREATE {created.json()['objectId']}"
            assert script.wait(timeout=60) == 0
    finally:
        if script is not None:
            script.kill()
            script.wait()
            if script.stdout is not None:
                script.stdout.close()
