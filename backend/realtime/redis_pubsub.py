"""LiveQuery's fan-out between Ballast instances over Redis pub/sub, one channel per class.

An instance SUBSCRIBEs to ``<prefix>:<className>`` only while it has local
subscribers for that class, and waits for Redis to confirm the SUBSCRIBE
before the client is told ``subscribed``: a write acknowledged after that is
never missed. Every instance, the writer's own included, delivers from Redis,
so each subscriber gets each event exactly once. The driver stays in storage
(``backend/storage/redis_channels.py``); this maps classes and changes onto it.
"""

from __future__ import annotations

import logging

from backend.errors import ParseError
from backend.realtime import changes
from backend.realtime.changes import Change
from backend.realtime.pubsub import Deliver
from backend.services.shared.channels import RedisChannels

log = logging.getLogger("ballast.realtime")


class RedisPubSub:
    def __init__(self, url: str, prefix: str) -> None:
        self._channels = RedisChannels(url)
        self._prefix = prefix + ":"

    async def ping(self) -> None:
        await self._channels.ping()

    def channel(self, class_name: str) -> str:
        return self._prefix + class_name

    async def start(self, deliver: Deliver) -> None:
        async def receive(channel: str, data: bytes) -> None:
            await _deliver(channel, data, deliver)

        # the reader needs a subscribed connection: the control channel is always on
        await self._channels.start(self._prefix + "@control", receive)

    async def stop(self) -> None:
        await self._channels.stop()

    async def publish(self, change: Change) -> None:
        await self._channels.publish(self.channel(change.class_name), changes.encode(change))

    async def watch(self, class_name: str) -> None:
        await self._channels.subscribe(self.channel(class_name))

    async def unwatch(self, class_name: str) -> None:
        await self._channels.unsubscribe(self.channel(class_name))


async def _deliver(channel: str, data: bytes, deliver: Deliver) -> None:
    try:
        change = changes.decode(data)
    except (ValueError, KeyError, TypeError, ParseError):
        log.error("dropped a malformed live query message on %s", channel)
        return
    try:
        await deliver(change)
    except Exception:
        log.exception("live query delivery failed for %s", change.class_name)
