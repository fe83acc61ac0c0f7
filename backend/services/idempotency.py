"""Idempotent requests that replay: a repeated ``X-Parse-Request-Id`` gets the first answer back.

parse-server only refuses such repeats (159); a client that retried because
the answer was lost wants the answer, so we keep it for ``ttl`` seconds.
"""

from __future__ import annotations

from datetime import timedelta

from backend import wire
from backend.services.units import Database
from backend.storage.protocols import StoredResponse


class IdempotencyService:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_seconds)

    @property
    def enabled(self) -> bool:
        return self.ttl.total_seconds() > 0

    async def recall(self, key: str) -> StoredResponse | None:
        async with self.db.unit(read_only=True) as unit:
            return await unit.session.get_response(key, wire.now())

    async def remember(self, key: str, status: int, body: bytes) -> None:
        async with self.db.unit() as unit:
            await unit.session.put_response(key, StoredResponse(status, body, wire.now() + self.ttl))
