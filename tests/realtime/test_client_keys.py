"""LiveQuery and the REST client keys (issue 17): like Parse's LiveQuery server, which checks only its
own keyPairs, Ballast accepts a connection without a client key unless BALLAST_LIVE_QUERY_CLIENT_KEYS is on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.app import create_app
from backend.config import Settings
from tests.support.live import LiveServer
from tests.support.postgres import free_port


def serve(settings: Settings, **update: Any) -> LiveServer:
    port = free_port()
    changed = settings.model_copy(update={"port": port, "server_url": f"http://127.0.0.1:{port}/parse", **update})
    return LiveServer(create_app(changed), port)


@pytest.fixture
def keyed_server(settings: Settings) -> Iterator[LiveServer]:
    with serve(settings, javascript_key="js-key") as server:
        yield server


@pytest.fixture
def strict_server(settings: Settings) -> Iterator[LiveServer]:
    with serve(settings, javascript_key="js-key", live_query_client_keys=True) as server:
        yield server


async def test_a_connection_without_a_client_key_is_accepted_as_parse(keyed_server: LiveServer,
                                                                     open_socket: Any) -> None:
    ws = await open_socket(keyed_server.url)
    assert (await ws.connect())["op"] == "connected"
    other = await open_socket(keyed_server.url)
    assert (await other.connect(masterKey="wrong"))["code"] == 4  # a wrong master key is still refused


async def test_client_keys_are_checked_when_asked(strict_server: LiveServer, open_socket: Any) -> None:
    ws = await open_socket(strict_server.url)
    refused = await ws.connect()
    assert (refused["op"], refused["code"]) == ("error", 4)
    keyed = await open_socket(strict_server.url)
    assert (await keyed.connect(javascriptKey="js-key"))["op"] == "connected"
