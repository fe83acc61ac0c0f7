"""SQLite, two processes on one file: a schema change is obeyed by the other process exactly when the database
holds it, even when the changing process dies as it announces the change (sqlite_stamp)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}


@pytest.fixture
def shared(settings: Settings) -> Settings:
    return settings.model_copy(update={"jobs_enabled": False, "cloud_code_dir": None})


@pytest.fixture
async def app(shared: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(shared)
    async with application.router.lifespan_context(application):
        yield application


def change_elsewhere(settings: Settings, clp: str, *, die_publishing: bool = False) -> int:
    """The CLP change made by another process; its exit code (9: it died announcing the change)."""
    command = [sys.executable, "-m", "tests.storage.schema_changer", str(settings.data_dir), clp]
    done = subprocess.run([*command, *(["--die-publishing"] if die_publishing else [])], capture_output=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode in (0, 9), done.stderr.decode()[-2000:]
    return done.returncode


def locked_in_database(settings: Settings) -> bool:
    """What the file holds, read by a connection of its own: is Doc's find closed to the public?"""
    with sqlite3.connect(settings.sqlite_path) as conn:
        (raw,) = conn.execute("SELECT schema FROM _SCHEMA WHERE className = 'Doc'").fetchone()
    return bool(json.loads(raw)["classLevelPermissions"]["find"] == {})


async def obeys(client: httpx.AsyncClient, settings: Settings) -> None:
    found = await client.get("/classes/Doc", headers=H)
    if locked_in_database(settings):
        assert (found.status_code, found.json().get("code")) == (400, 119), found.text
    else:
        assert found.status_code == 200 and found.json()["results"], found.text


async def test_a_process_dying_as_it_announces_a_change_leaves_no_other_process_behind_the_database(
        app: FastAPI, shared: Settings) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1/parse") as here:
        assert (await here.post("/classes/Doc", json={"n": 1}, headers=H)).status_code == 201
        await obeys(here, shared)  # open, and cached here
        assert change_elsewhere(shared, "locked", die_publishing=True) == 9  # it reached the announcement
        await obeys(here, shared)  # whatever the database holds now, this process obeys it
        assert change_elsewhere(shared, "locked") == 0
        assert locked_in_database(shared)
        await obeys(here, shared)
        assert change_elsewhere(shared, "open", die_publishing=True) == 9
        await obeys(here, shared)


async def test_a_file_naming_a_change_never_committed_is_obeyed_as_the_database_says_and_repaired(
        app: FastAPI, shared: Settings) -> None:
    """A writer that published its count and died before its COMMIT: every unit reloads (the rules the database
    holds) until a process opening the store rewrites the file with the committed count."""
    schema_file = Path(f"{shared.sqlite_path}-schema")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1/parse") as here:
        assert (await here.post("/classes/Doc", json={"n": 1}, headers=H)).status_code == 201
        schema_file.write_text("999999 dead-writer")
        store = app.state.services.store
        assert store.schema_stamp() != store.schema_stamp()  # unsettled: every unit reloads
        await obeys(here, shared)
        assert change_elsewhere(shared, "locked") == 0  # opening the store there repaired the file first
        assert not schema_file.read_text().startswith("999999 ")
        await obeys(here, shared)
        assert store.schema_stamp() == store.schema_stamp()  # settled again: one stat per unit
