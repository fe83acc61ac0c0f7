"""``ballast serve``'s log as an operator reads it: JSON lines on a pipe, the level setting, mails in the log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
BALLAST = str(Path(sys.executable).parent / "ballast")


def _serve_and_read_log(tmp_path: Path, extra_env: dict[str, str], requests: list[tuple[str, str, dict[str, object]]]
                        ) -> list[dict[str, object]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/parse"
    env = {**os.environ, "BALLAST_DATA_DIR": str(tmp_path / "data"), "PARSE_SERVER_APPLICATION_ID": "logs",
           "BALLAST_JOBS_ENABLED": "false", **extra_env}
    process = subprocess.Popen([BALLAST, "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine has taken more than 60 s to start it
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for method, path, body in requests:
            httpx.request(method, url + path, json=body, timeout=10,
                          headers={"X-Parse-Application-Id": "logs", "X-Request-Id": f"rq-{path.strip('/')}"})
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    return [orjson.loads(line) for line in out.splitlines() if line.strip()]


def test_serve_writes_json_lines_with_request_ids_and_the_mails_it_would_send(tmp_path: Path) -> None:
    lines = _serve_and_read_log(tmp_path, {"PARSE_SERVER_LOG_LEVEL": "info"}, [
        ("POST", "/users", {"username": "mo", "password": "pw-mo-1", "email": "mo@example.com"}),
        ("POST", "/requestPasswordReset", {"email": "mo@example.com"}),
    ])
    access = [line for line in lines if line["logger"] == "ballast.access" and line["path"] != "/parse/health"]
    assert [(line["request_id"], line["status"], line["principal"]) for line in access] == [
        ("rq-users", 201, "anonymous"), ("rq-requestPasswordReset", 200, "anonymous")]
    mails = [line for line in lines if line["logger"] == "ballast.mail"]
    assert mails and "mo@example.com" in str(mails[0]["message"])
    assert mails[0]["request_id"] == "rq-requestPasswordReset"
    assert any(str(line["logger"]).startswith("uvicorn") for line in lines)  # the server's own lines, as JSON too
    assert all(line["level"] in ("INFO", "WARNING", "ERROR") for line in lines)
    assert "pw-mo-1" not in str(lines)


def test_log_level_warn_leaves_out_the_access_lines(tmp_path: Path) -> None:
    lines = _serve_and_read_log(tmp_path, {"BALLAST_LOG_LEVEL": "warn"}, [("GET", "/health", {})])
    assert not [line for line in lines if line["logger"] == "ballast.access"]
