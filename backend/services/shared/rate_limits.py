"""Request rate limits, as Parse Server's ``rateLimit`` option: rules by route, counted per client address,
per user, per session, per username or globally; in memory, or in Redis so every instance shares the count.

By default the routes that run bcrypt or send mail (log-in, sign-up, password reset, verification mail) are
limited per address and per username: a storm of guesses is refused with Parse's answer (code 100, HTTP 429)
before it costs a hash. Account lockout (``account_lockout_threshold``) still works underneath. The master
key is exempt unless a rule sets ``includeMasterKey``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, Literal

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from backend.context import RequestContext
from backend.errors import TooManyRequests
from backend.storage.redis_scripts import DRIVER_ERRORS, REDIS_TIMEOUT, CountersUnreachable

Zone = Literal["ip", "username", "user", "session", "global"]
Username = Callable[[], Awaitable[str | None]]  # the username or email a request names, read only when needed


class RateCounter:
    """Hit counters, Redis-backed when Redis is configured (all instances count together).

    The sliding window counter costs O(1) per hit but estimates: hits late in one window weigh less in the
    next. ``exact`` keeps every hit of the window (a moving window, O(count) per key): the count of log-in
    attempts is then exactly the configured one.
    """

    def __init__(self, redis_url: str | None, namespace: str, *, exact: bool = False) -> None:
        # redis-py's asyncio client (a dependency already): coredis needs its pool entered before use
        storage: Storage = MemoryStorage()
        if redis_url:
            # a hung Redis answers within seconds (callers refuse the request), never holds it forever
            storage = RedisStorage("async+" + redis_url, implementation="redispy", socket_timeout=REDIS_TIMEOUT,
                                   socket_connect_timeout=REDIS_TIMEOUT)
        self.storage = storage
        self.namespace = namespace
        self.limiter: RateLimiter = (MovingWindowRateLimiter if exact else SlidingWindowCounterRateLimiter)(storage)

    async def close(self) -> None:
        """Close the Redis connections (left open, they are torn down by GC with a warning, mid-request)."""
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)  # limits keeps its redis-py client there
            if client is not None:
                await client.aclose()

    async def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Count one hit; False when the window is already full (``CountersUnreachable``: Redis is down)."""
        return await _reached(self.limiter.hit(item, self.namespace, *keys))

    async def test(self, item: RateLimitItem, *keys: str) -> bool:
        """Whether another hit would still be allowed (counts nothing)."""
        return await _reached(self.limiter.test(item, self.namespace, *keys))


_UNREACHABLE: tuple[type[Exception], ...] = (*DRIVER_ERRORS, StorageError)  # limits raises the driver's, or wraps


async def _reached(pending: Awaitable[bool]) -> bool:
    try:
        return await pending
    except _UNREACHABLE as error:
        raise CountersUnreachable(str(error)) from error


class RequestRule(BaseModel):
    """One entry of Parse's ``rateLimit`` list (its field names), plus the ``username`` zone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    request_path: str = Field(alias="requestPath", min_length=1)
    request_time_window: int = Field(alias="requestTimeWindow", gt=0)  # milliseconds, as Parse
    request_count: int = Field(alias="requestCount", ge=0)
    error_response_message: str = Field("Too many requests.", alias="errorResponseMessage")
    request_methods: list[str] | str | None = Field(None, alias="requestMethods")
    include_master_key: bool = Field(False, alias="includeMasterKey")
    zone: Zone = "ip"

    @cached_property
    def path(self) -> re.Pattern[str]:
        """Parse's path-to-regexp syntax: ``*`` any rest, ``:name`` one segment; the whole path must match."""
        parts = re.split(r"(\*|:[A-Za-z_]\w*)", "/" + self.request_path.strip("/"))
        pattern = "".join(".*" if p == "*" else "[^/]+" if p.startswith(":") else re.escape(p) for p in parts)
        return re.compile(pattern + "/?")

    @cached_property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.request_count, max(1, math.ceil(self.request_time_window / 1000)))

    def applies(self, ctx: RequestContext, method: str, path: str) -> bool:
        if ctx.principal.is_master and not self.include_master_key:
            return False
        if isinstance(self.request_methods, str) and not re.search(self.request_methods, method, re.IGNORECASE):
            return False
        if isinstance(self.request_methods, list) and method.upper() not in map(str.upper, self.request_methods):
            return False
        return self.path.fullmatch(path) is not None


RULES = TypeAdapter(list[RequestRule])


class RequestLimits:
    """The configured rules and their counters; ``check`` runs for every REST request."""

    def __init__(self, rules: Sequence[dict[str, Any]], counter: RateCounter) -> None:
        self.rules = RULES.validate_python(list(rules))
        self.counter = counter
        # every rule's path in one pattern: most requests (object routes) match none, and one match tells so
        # (the default rules cost eight checks of ~1 us each on every request before)
        paths = "|".join(f"(?:{rule.path.pattern})" for rule in self.rules)
        self.any_path = re.compile(paths) if self.rules else None

    async def check(self, ctx: RequestContext, method: str, path: str, username: Username) -> None:
        """Raise TooManyRequests (100, HTTP 429) when a rule matching this request is over its count."""
        if self.any_path is None or self.any_path.fullmatch(path) is None:
            return
        for index, rule in enumerate(self.rules):
            if not rule.applies(ctx, method, path):
                continue
            key = await _key(rule.zone, ctx, username)
            if key is not None and not await self.counter.hit(rule.item, str(index), rule.zone, key):
                raise TooManyRequests(rule.error_response_message)


def named_in(body: object) -> Username:
    """The username (or email) a request body names, for the ``username`` zone."""

    async def name() -> str | None:
        found = (body.get("username") or body.get("email")) if isinstance(body, dict) else None
        return found if isinstance(found, str) else None

    return name


async def _key(zone: Zone, ctx: RequestContext, username: Username) -> str | None:
    """What a rule counts by; None: the request names nothing to count (a log-in without a username)."""
    if zone == "global":
        return "*"
    if zone == "username":
        name = await username()
        return _digest(name.strip().lower()) if name else None
    if zone == "user" and ctx.principal.user_id:
        return ctx.principal.user_id
    if zone == "session" and ctx.principal.session_token:
        return _digest(ctx.principal.session_token)
    return ctx.ip or "unknown"


def _digest(secret: str) -> str:
    """Usernames and tokens are kept in the counter store (Redis) only as digests."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


__all__ = ["RateCounter", "RequestLimits", "RequestRule", "named_in"]
