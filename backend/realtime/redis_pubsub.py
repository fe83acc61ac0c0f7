"""Redis pub/sub between Ballast instances (redis-py asyncio), one channel per class.

An instance SUBSCRIBEs to ``<prefix>:<className>`` only while it has local
subscribers for that class, and waits for Redis to confirm the SUBSCRIBE
before the client is told ``subscribed``: a write acknowledged after that is
never missed. Every instance, the writer's own included, delivers from Redis,
so each subscriber gets each event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as redis

from backend.errors import ParseError
from backend.realtime import changes
from backend.realtime.changes import Change
from backend.realtime.pubsub import Deliver

log = logging.getLogger("ballast.realtime")

SUBSCRIBE_TIMEOUT = 10.0


class RedisPubSub:
    def __init__(self, url: str, prefix: str) -> None:
        self._client: redis.Redis = redis.from_url(url)
        self._pubsub = self._client.pubsub()
        self._prefix = prefix + ":"
        self._watched: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def ping(self) -> None:
        await self._client.ping()

    def channel(self, class_name: str) -> str:
        return self._prefix + class_name

    async def start(self, deliver: Deliver) -> None:
        # the reader needs a subscribed connection: the control channel is always on
        await self._pubsub.subscribe(self._prefix + "@control")
        self._task = asyncio.create_task(self._read(deliver), name="livequery-redis-reader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._client.aclose()

    async def publish(self, change: Change) -> None:
        await self._client.publish(self.channel(change.class_name), changes.encode(change))

    async def watch(self, class_name: str) -> None:
        channel = self.channel(class_name)
        async with self._lock:
            if class_name in self._watched:
                return
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            await self._pubsub.subscribe(channel)
            self._watched.add(class_name)
        await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)

    async def unwatch(self, class_name: str) -> None:
        async with self._lock:
            if class_name in self._watched:
                self._watched.discard(class_name)
                await self._pubsub.unsubscribe(self.channel(class_name))

    async def _read(self, deliver: Deliver) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (redis.ConnectionError, OSError):
                log.warning("redis pub/sub connection lost; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                await self._handle(message, deliver)

    async def _handle(self, message: dict[str, Any], deliver: Deliver) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        if message["type"] == "subscribe":
            confirmed = self._confirmations.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if message["type"] != "message":
            return
        try:
            change = changes.decode(message["data"])
        except (ValueError, KeyError, TypeError, ParseError):
            log.error("dropped a malformed live query message on %s", channel)
            return
        try:
            await deliver(change)
        except Exception:
            log.exception("live query delivery failed for %s", change.class_name)
