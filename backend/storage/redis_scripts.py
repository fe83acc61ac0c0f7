"""Counters kept in Redis, shared by every instance: Lua scripts run atomically on the server, one round trip each.

The driver side of run budgets and rate limits. Any failure of Redis (refused, reset, or no answer within
``REDIS_TIMEOUT``) is raised as ``CountersUnreachable``, so the layers above decide what an unreachable store
means (Ballast refuses the call) without knowing the driver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as redis

REDIS_TIMEOUT = 5.0  # seconds: a hung Redis refuses the request within this, it never holds it
DRIVER_ERRORS: tuple[type[Exception], ...] = (redis.RedisError,)  # what a library over this driver raises
T = TypeVar("T")


class CountersUnreachable(Exception):
    """Redis could not be reached, or did not answer in time: nothing was counted."""


class RedisScripts:
    """One Redis connection pool and the named Lua scripts registered on it."""

    def __init__(self, url: str, scripts: Mapping[str, str]) -> None:
        self._client: redis.Redis = redis.from_url(url, socket_timeout=REDIS_TIMEOUT,
                                                   socket_connect_timeout=REDIS_TIMEOUT)
        self._scripts = {name: self._client.register_script(source) for name, source in scripts.items()}

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await _reached(self._scripts[name](list(keys), list(args)))

    async def get(self, key: str) -> str | None:
        value = await _reached(self._client.get(key))
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: int) -> None:
        await _reached(self._client.set(key, value, ex=ttl))

    async def close(self) -> None:
        await self._client.aclose()


async def _reached(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except redis.RedisError as error:
        raise CountersUnreachable(str(error)) from error
