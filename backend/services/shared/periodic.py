"""A service's background chore: run it every few seconds until stopped; one failure never ends it.

Stopping waits for a run in progress instead of cancelling it: a database call cut off halfway
would finish on the driver's thread after the event loop is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(self, seconds: float, work: Callable[[], Awaitable[None]], log: logging.Logger, what: str) -> None:
        self.seconds = seconds
        self.work = work
        self.log = log
        self.what = what
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.seconds)
                return
            try:
                await self.work()
            except Exception:
                self.log.exception("%s failed", self.what)
