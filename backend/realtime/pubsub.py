"""Fan-out between writers and the hub: in-process by default, Redis when configured.

A ``PubSub`` carries committed changes to every instance's hub. Channels are
per class: a hub ``watch``es a class when its first local subscription to it
appears and ``unwatch``es it when the last one goes, so an instance only
receives the classes its clients listen to. Writers ``publish`` every change;
each hub (the writer's own included) delivers it once, from the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from backend.realtime.changes import Change

log = logging.getLogger("ballast.realtime")

Deliver = Callable[[Change], Awaitable[None]]


class PubSub(Protocol):
    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the bus between instances cannot be reached (readiness)."""

    async def publish(self, change: Change) -> None:
        """Hand a committed change to every instance watching its class."""

    async def watch(self, class_name: str) -> None:
        """Start receiving the class; returns once changes published from now on will arrive."""

    async def unwatch(self, class_name: str) -> None: ...


class LocalPubSub:
    """One process: changes go through a queue to the hub, so a writer never waits for delivery."""

    def __init__(self, max_backlog: int = 100_000) -> None:
        self._queue: asyncio.Queue[Change] = asyncio.Queue(max_backlog)
        self._task: asyncio.Task[None] | None = None
        self._watched: set[str] = set()

    async def start(self, deliver: Deliver) -> None:
        self._task = asyncio.create_task(self._run(deliver), name="livequery-local-pubsub")

    async def ping(self) -> None:
        return None  # in-process: nothing to reach

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, change: Change) -> None:
        if change.class_name not in self._watched:
            return
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:  # the hub is far behind: shed rather than grow without bound
            log.error("live query backlog full; dropped a %s on %s", change.kind, change.class_name)

    async def watch(self, class_name: str) -> None:
        self._watched.add(class_name)

    async def unwatch(self, class_name: str) -> None:
        self._watched.discard(class_name)

    async def _run(self, deliver: Deliver) -> None:
        while True:
            change = await self._queue.get()
            try:
                await deliver(change)
            except Exception:  # one bad change must not stop delivery of the next
                log.exception("live query delivery failed for %s", change.class_name)
