"""Creates on SQLite, 32 at a time, until the process is killed (SIGKILL) by the test that started it.

    python -m tests.storage.killed_writer <data_dir>

Prints each created objectId once its create has answered (flushed at once): the test then checks that
every printed object survived the kill.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from backend.config import Settings
from backend.context import RequestContext
from backend.services.wiring import build_services


async def main(data_dir: str) -> None:
    settings = Settings(application_id="test-app", master_key="test-master-key", data_dir=Path(data_dir))
    services = build_services(settings)
    await services.start()
    system = RequestContext.system()
    await services.objects.create(system, "Gadget", {"sku": "first", "n": 0})  # the class, in a transaction

    async def client(number: int) -> None:
        for n in range(1_000_000):
            created = await services.objects.create(system, "Gadget", {"sku": f"{number}-{n}", "n": n})
            print(created["objectId"], flush=True)

    await asyncio.gather(*(client(number) for number in range(32)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
