"""Fixtures: settings, app and client on both engines; a throwaway PostgreSQL; a live server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.config import Settings
from tests.support.live import LiveServer
from tests.support.postgres import PostgresCluster, free_port

APP_ID = "test-app"
MASTER_KEY = "test-master-key"
ENGINES = ["sqlite", "postgres"]
SAMPLE_CLOUD_CODE = Path(__file__).parent / "sample_cloud_functions"  # loaded like Datasette plugins


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    # not under pytest's tmp dir: that is private to root, and the server runs as 'postgres'
    base = Path(tempfile.mkdtemp(prefix="ballast-pg-"))
    cluster = PostgresCluster(base)
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_uri(engine: str, request: pytest.FixtureRequest) -> str | None:
    if engine == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a loopback port, for the tests of what instances share through it."""
    from tests.realtime.conftest import RedisServer

    server = RedisServer()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def settings(database_uri: str | None, tmp_path: Path) -> Settings:
    return Settings(
        application_id=APP_ID, master_key=MASTER_KEY, data_dir=tmp_path / "data", database_uri=database_uri,
        cloud_code_dir=SAMPLE_CLOUD_CODE,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
        yield http


@pytest.fixture
def headers() -> dict[str, str]:
    """What an app's client sends: just the application id."""
    return {"X-Parse-Application-Id": APP_ID}


@pytest.fixture
def master_headers() -> dict[str, str]:
    return {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Ballast on a loopback port, for real clients (the JS SDK, parse_rest, MCP)."""
    port = free_port()
    served = settings.model_copy(update={"port": port, "server_url": f"http://127.0.0.1:{port}/parse"})
    with LiveServer(create_app(served), port) as server:
        yield server
