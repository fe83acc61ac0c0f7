"""Changes the class ``Doc``'s CLP on SQLite from a process of its own, as a second Ballast process would.

    python -m tests.storage.schema_changer <data_dir> <locked|open> [--die-publishing]

With ``--die-publishing`` the process dies (exit 9) the instant it replaces the schema-change file beside the
database, as a crash at that point would: an audit hook on ``os.replace``, installed just before the change.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

OPS = ("find", "count", "get", "create", "update", "delete", "addField")
CLPS: dict[str, dict[str, Any]] = {"locked": {op: {} for op in OPS}, "open": {op: {"*": True} for op in OPS}}
armed = False


def die_publishing(event: str, args: tuple[Any, ...]) -> None:
    if armed and event == "os.rename" and os.fsdecode(args[1]).endswith("-schema"):
        os._exit(9)


async def main(data_dir: str, clp: str, die: bool) -> None:
    global armed
    settings = Settings(application_id=APP_ID, master_key=MASTER_KEY, data_dir=Path(data_dir), jobs_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1/parse") as client:
        armed = die
        changed = await client.put("/schemas/Doc", json={"classLevelPermissions": CLPS[clp]},
                                   headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY})
        assert changed.status_code == 200, changed.text


if __name__ == "__main__":
    sys.addaudithook(die_publishing)
    asyncio.run(main(sys.argv[1], sys.argv[2], "--die-publishing" in sys.argv[3:]))
