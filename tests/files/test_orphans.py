"""Orphaned files: found through ObjectService on both engines, listed and deleted by the CLI."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from backend.app import create_app
from backend.config import Settings
from backend.services.files.orphans import delete_orphans, find_orphans
from backend.services.wiring import Services


async def upload(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> dict[str, str]:
    answer = await client.post(f"/files/{name}", content=b"data", headers=headers)
    return {"__type": "File", "name": answer.json()["name"]}


async def test_orphans_are_files_no_object_references(app: FastAPI, client: httpx.AsyncClient,
                                                     master_headers: dict[str, str]) -> None:
    used = await upload(client, master_headers, "used.txt")
    in_list = await upload(client, master_headers, "listed.txt")
    hidden = await upload(client, master_headers, "hidden.txt")
    orphan = await upload(client, master_headers, "orphan.txt")
    await client.post("/classes/Doc", json={"file": used, "gallery": [{"nested": in_list}]}, headers=master_headers)
    # a beforeFind (tests/sample_cloud_functions) hides invisible CloudSecrets: the scan must still see them
    await client.post("/classes/CloudSecret", json={"file": hidden, "visible": False}, headers=master_headers)
    services: Services = app.state.services
    assert await find_orphans(services.files, services.objects) == [orphan["name"]]
    assert await delete_orphans(services.files, services.objects) == [orphan["name"]]
    assert await find_orphans(services.files, services.objects) == []
    assert (await client.get(f"/files/test-app/{used['name']}")).status_code == 200


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_cli_lists_and_deletes_orphans(settings: Settings, master_headers: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async def seed() -> dict[str, str]:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
                return await upload(http, master_headers, "orphan.txt")

    orphan = asyncio.run(seed())
    monkeypatch.setenv("BALLAST_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PARSE_SERVER_MASTER_KEY", "cli-master-key")
    monkeypatch.setenv("BALLAST_CLOUD_CODE_DIR", str(settings.cloud_code_dir))
    from backend.cli import app as cli

    listed = CliRunner().invoke(cli, ["files", "orphans"])
    assert listed.exit_code == 0, listed.output
    assert orphan["name"] in listed.output
    deleted = CliRunner().invoke(cli, ["files", "orphans", "--delete"])
    assert deleted.exit_code == 0 and orphan["name"] in deleted.output
    assert list((settings.data_dir / "files").iterdir()) == []
