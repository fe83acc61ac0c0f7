"""The handles a read tool is given: none of them can write (rule 3 of docs/architecture.md, for every handle).

A read tool runs in a read-only unit, but ``ctx.services`` used to be the app's full Services: a
tool calling ``ctx.services.objects.create(...)`` without the unit opened a write unit of its own.
Read tools now get ``ReadOnlyServices``: schemas, settings and an ObjectService whose every unit is
read-only (asking it for a write unit is refused before any SQL), and nothing else; and a jobs
handle that can list and look, not start.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from backend.errors import OperationForbidden
from backend.services.shared.units import Database, Unit
from backend.services.wiring import Services

REFUSAL = "tool.read_only: a read tool cannot write, nor reach {what}."


class ReadOnlyDatabase(Database):
    """Opens read-only units only; a write unit (or a caller's write unit) is refused."""

    @asynccontextmanager
    async def unit(self, existing: Unit | None = None, *, read_only: bool = False, single_write: bool = False,
                   resumable: bool = True) -> AsyncIterator[Unit]:
        if not read_only and (existing is None or not existing.read_only):
            raise OperationForbidden(REFUSAL.format(what="a write unit"))
        async with super().unit(existing, read_only=True, resumable=resumable) as unit:
            yield unit


class ReadOnlyServices:
    """What ``ctx.services`` is for a read tool: reads only; any other service raises."""

    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self.schemas = services.schemas
        self.db = ReadOnlyDatabase(services.store)
        objects = copy.copy(services.objects)  # the same rules and caches, over read-only units
        objects.db = self.db
        self.objects = objects

    def __getattr__(self, name: str) -> Any:
        raise OperationForbidden(REFUSAL.format(what=f"services.{name}"))


class ReadOnlyJobs:
    """The job service as a read tool sees it: names and statuses, never a start."""

    def __init__(self, jobs: Any) -> None:
        self._jobs = jobs

    def job_names(self) -> list[str]:
        names: list[str] = self._jobs.job_names()
        return names

    async def status(self, ctx: Any, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._jobs.status(ctx, run_id)
        return found

    async def start(self, ctx: Any, name: str, params: dict[str, Any]) -> str:
        raise OperationForbidden(REFUSAL.format(what="starting a job"))
