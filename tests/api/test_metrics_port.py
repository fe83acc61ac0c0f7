"""``ballast serve --metrics-port``: /metrics and the probes on a side listener, 404 for /metrics on the public one.

Real ``ballast serve`` processes, one worker and two: with two, a scrape reaches either worker and
still counts every request both served (their numbers meet in a shared folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.live import ballast_serve
from tests.support.postgres import free_port


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PARSE_SERVER_", "BALLAST_", "PROMETHEUS_")) and key not in ("REDIS_URL",)}
    return env | {"BALLAST_DATA_DIR": str(tmp_path / "data"), "PARSE_SERVER_APPLICATION_ID": "side",
                  "PARSE_SERVER_MASTER_KEY": "side-master", "BALLAST_JOBS_ENABLED": "false",
                  "BALLAST_CLOUD_CODE_DIR": str(tmp_path / "cloud"), **extra}


def _health_count(text: str) -> float:
    found = re.search(r'ballast_http_request_duration_seconds_count\{method="GET",route="/parse/health",'
                      r'status="200"\} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else 0.0


def _assert_the_split(public: str, side: str) -> None:
    refused = httpx.get(f"{public}/metrics")
    assert refused.status_code == 404 and refused.json() == {"code": 101, "error": "Not found."}
    for path in ("/parse/classes/GameScore", "/parse/serverInfo", "/console/", "/mcp", "/parse/users"):
        assert httpx.get(side + path).status_code == 404, path  # the side port is for scrapers and probes only
    assert httpx.post(f"{side}/parse/users", json={"username": "a", "password": "b"}).status_code == 404
    assert httpx.get(f"{side}/parse/health").json() == {"status": "ok"}
    assert httpx.get(f"{side}/parse/health/ready").json()["status"] == "ok"
    assert httpx.get(f"{public}/parse/health").status_code == 200  # Parse's own health stays public
    with pytest.raises(InvalidStatus) as refused_socket:  # nor LiveQuery: the side port is no way in
        connect(side.replace("http", "ws") + "/parse", open_timeout=10).close()
    assert refused_socket.value.response.status_code == 403


def test_one_worker_serves_metrics_on_the_side_port_only(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    public, side = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    with ballast_serve(["--port", str(port), "--metrics-port", str(metrics_port)], _environment(tmp_path),
                       f"{public}/parse", cwd=tmp_path):
        _assert_the_split(public, side)
        before = _health_count(httpx.get(f"{side}/metrics").text)
        for _ in range(5):
            httpx.get(f"{public}/parse/health")
        scraped = httpx.get(f"{side}/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        assert _health_count(scraped.text) == before + 5
        assert "ballast_livequery_clients" in scraped.text and "ballast_db_pool_connections" in scraped.text


def test_two_workers_add_up_on_the_side_port_from_the_environment(tmp_path: Path, redis_url: str) -> None:
    port, metrics_port = free_port(), free_port()
    public, side = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    env = _environment(tmp_path, BALLAST_REDIS_URL=redis_url, BALLAST_METRICS_PORT=str(metrics_port))
    with ballast_serve(["--port", str(port), "--workers", "2"], env, f"{public}/parse", cwd=tmp_path):
        _assert_the_split(public, side)
        before = _health_count(httpx.get(f"{side}/metrics").text)
        for _ in range(20):  # a new connection each: the kernel hands them to both workers
            assert httpx.get(f"{public}/parse/health").status_code == 200
        for _ in range(6):  # whichever worker a scrape reaches, it counts both workers' requests
            text = httpx.get(f"{side}/metrics").text
            assert _health_count(text) == before + 20
            assert 'pid="' not in text  # gauges add up over the workers, not one series per process
