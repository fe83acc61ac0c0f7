"""Liveness, readiness and /metrics as an operator (and Kubernetes, and Prometheus) use them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.config import Settings
from tests.conftest import APP_ID
from tests.support.postgres import PostgresCluster

TOKEN = "scrape-me"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": TOKEN})


@pytest.fixture
async def outsider(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client from an address outside loopback (what a scraper on another host is)."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ballast.example") as http:
        yield http


async def test_ready_names_each_dependency_and_health_stays_cheap(client: httpx.AsyncClient) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "files": "ok"}}
    assert (await client.get("/health")).json() == {"status": "ok"}


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_readiness_goes_false_while_the_database_is_gone_and_back_after(
        client: httpx.AsyncClient, settings: Settings, pg_cluster: PostgresCluster) -> None:
    assert settings.database_uri
    name = settings.database_uri.rsplit("/", 1)[1]

    def sql(statement: str) -> None:
        pg_cluster._run("psql", "-h", "127.0.0.1", "-p", str(pg_cluster.port), "-U", "postgres", "-qAt",
                        "-c", statement)

    sql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    gone = await client.get("/health/ready")
    assert gone.status_code == 503
    assert gone.json()["status"] == "unavailable" and gone.json()["checks"]["database"] != "ok"
    assert gone.json()["checks"]["files"] == "ok"
    assert "postgres@" not in gone.text  # names the dependency, never its URL
    assert (await client.get("/health")).status_code == 200  # alive: a restart would not bring it back
    sql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    assert (await client.get("/health/ready")).status_code == 200


async def test_metrics_count_requests_by_route_template_and_read_gauges(
        client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    for _ in range(2):
        await client.post("/classes/Meter", json={"n": 1}, headers=master_headers)
    text = (await client.get("http://127.0.0.1/metrics")).text
    line = next(line for line in text.splitlines() if line.startswith(
        'ballast_http_request_duration_seconds_count{method="POST",route="/parse/classes/{class_name}",status="201"}'))
    assert float(line.split()[-1]) >= 2
    assert "/parse/classes/Meter" not in text  # templates, never raw paths
    assert 'ballast_db_pool_connections{pool="writes",state="size"}' in text
    assert "ballast_approvals_pending 0.0" in text
    for name in ("ballast_agent_tool_calls", "ballast_job_runs", "ballast_job_lateness_seconds",
                 "ballast_livequery_clients", "ballast_livequery_delivery_latency_seconds"):
        assert f"# HELP {name}" in text


async def test_metrics_refuse_other_addresses_unless_they_bring_the_token(outsider: httpx.AsyncClient) -> None:
    refused = await outsider.get("/metrics")
    assert refused.status_code == 403 and "unauthorized" in refused.json()["error"]
    assert "ballast_" not in refused.text
    assert (await outsider.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
    allowed = await outsider.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and "ballast_http_request_duration_seconds" in allowed.text


def test_bad_networks_in_the_allow_lists_are_refused_at_start() -> None:
    for field in ("master_key_ips", "metrics_ips"):
        values: dict[str, Any] = {"application_id": APP_ID, field: "10.0.0.0/8,not-an-ip"}
        with pytest.raises(ValueError, match="not an IP address or network: 'not-an-ip'"):
            Settings(**values)
