"""Redis pub/sub channels (redis-py asyncio): publish bytes, subscribe with Redis's confirmation, read for ever.

The driver side of LiveQuery's fan-out between instances; ``backend/realtime/redis_pubsub.py`` maps classes and
changes onto these channels. ``subscribe`` returns only once Redis confirmed the SUBSCRIBE, so a message published
after it returns is never missed. A lost connection is retried by the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis

log = logging.getLogger("ballast.realtime")

SUBSCRIBE_TIMEOUT = 10.0
Receive = Callable[[str, bytes], Awaitable[None]]  # (channel, payload) of each message


class RedisChannels:
    def __init__(self, url: str) -> None:
        self._client: redis.Redis = redis.from_url(url)
        self._pubsub = self._client.pubsub()
        self._subscribed: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def ping(self) -> None:
        await self._client.ping()

    async def start(self, control: str, receive: Receive) -> None:
        """Read every subscribed channel into ``receive``; ``control`` keeps the reader's connection subscribed."""
        await self._pubsub.subscribe(control)
        self._task = asyncio.create_task(self._read(receive), name="livequery-redis-reader")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._client.aclose()

    async def publish(self, channel: str, data: bytes) -> None:
        await self._client.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        """Returns once Redis confirmed the channel, for a second caller too while the first waits."""
        async with self._lock:
            confirmed = self._confirmations.get(channel)
            if confirmed is None and channel not in self._subscribed:
                confirmed = asyncio.get_running_loop().create_future()
                self._confirmations[channel] = confirmed
                await self._pubsub.subscribe(channel)
                self._subscribed.add(channel)
        if confirmed is not None:
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            if channel in self._subscribed:
                self._subscribed.discard(channel)
                await self._pubsub.unsubscribe(channel)

    async def _read(self, receive: Receive) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (redis.ConnectionError, OSError):
                log.warning("redis pub/sub connection lost; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                await self._handle(message, receive)

    async def _handle(self, message: dict[str, Any], receive: Receive) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        if message["type"] == "subscribe":
            confirmed = self._confirmations.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif message["type"] == "message":
            await receive(channel, message["data"])
