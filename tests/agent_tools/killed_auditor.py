"""Audit records, 32 callers at a time, until the process is killed (SIGKILL) by the test that started it.

    python -m tests.agent_tools.killed_auditor <data_dir> [<database_uri>]

Half the callers record calls that changed nothing (group commit, several records per transaction), half append
a record in a write unit of its own. Prints each record's seq once its call has it (flushed at once): the test
then checks that every printed record survived the kill and that every chain still verifies.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent_tools.wiring import AgentTools
from backend.config import Settings
from backend.services.wiring import build_services


async def main(data_dir: str, database_uri: str | None) -> None:
    settings = Settings(application_id="test-app", master_key="test-master-key", data_dir=Path(data_dir),
                        database_uri=database_uri)
    services = build_services(settings)
    await services.start()
    tools = AgentTools(services)
    await tools.ready()
    print("ready", flush=True)

    async def client(number: int) -> None:
        for n in range(1_000_000):
            entry = {"agentId": f"agent{number:05d}", "runId": f"run_{n:016x}", "tool": "get_object",
                     "kind": "read", "decision": "allow", "rule": "allow", "outcome": "ok", "input": {"n": n}}
            if number % 2:
                body = await tools.audit.record(entry)
            else:
                async with services.db.unit(resumable=False) as unit:
                    body = await tools.audit.append(unit, entry | {"kind": "write", "tool": "update_object"})
            print(int(body["seq"]), flush=True)

    await asyncio.gather(*(client(number) for number in range(32)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None))
