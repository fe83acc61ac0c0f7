"""Idempotent requests: a repeated ``X-Parse-Request-Id`` gets the first answer back, or Parse's 159.

By default Ballast replays: a client that retried because the answer was lost
wants the answer, so it is kept for ``ttl`` seconds. When Parse's own
``idempotencyOptions`` are set (``{"paths": [regex, ...], "ttl": seconds}``), an app
gets what parse-server does: on those paths a repeat is refused with 159
"Duplicate request" (``replay=True`` keeps replaying on them instead).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from backend import wire
from backend.errors import InvalidValue
from backend.services.shared.units import Database
from backend.storage.protocols import StoredResponse


class IdempotencyService:
    def __init__(self, db: Database, ttl_seconds: int, parse_options: Mapping[str, Any] | None = None,
                 replay: bool = False) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_seconds)
        self.paths: tuple[re.Pattern[str], ...] | None = None  # None: every write (Ballast's replay)
        self.refuses = False
        if parse_options:
            self.paths = _paths(parse_options.get("paths"))
            self.ttl = timedelta(seconds=_ttl(parse_options.get("ttl", 300)))
            self.refuses = not replay

    def applies(self, path: str) -> bool:
        """Whether a write to ``path`` (below the mount path, as Parse's ``paths`` name it) is kept."""
        return self.paths is None or any(pattern.match(path.strip("/")) for pattern in self.paths)

    @property
    def enabled(self) -> bool:
        return self.ttl.total_seconds() > 0

    async def recall(self, key: str) -> StoredResponse | None:
        async with self.db.unit(read_only=True) as unit:
            return await unit.session.get_response(key, wire.now())

    async def remember(self, key: str, status: int, body: bytes) -> None:
        async with self.db.unit() as unit:
            await unit.session.put_response(key, StoredResponse(status, body, wire.now() + self.ttl))


def _paths(raw: object) -> tuple[re.Pattern[str], ...]:
    if not isinstance(raw, list) or not all(isinstance(path, str) for path in raw):
        raise InvalidValue("idempotencyOptions.paths must be a list of regular expressions.")
    try:  # as Parse: a path always matches from the start
        return tuple(re.compile(path if path.startswith("^") else "^" + path) for path in raw)
    except re.error as error:
        raise InvalidValue(f"idempotencyOptions.paths: {error}") from error


def _ttl(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise InvalidValue("idempotencyOptions.ttl must be a positive number of seconds.")
    return float(raw)
