"""What a job handler is given: params, progress and messages, a log, the cancel flag, its Principal.

    @cloud.job("nightlyDigest")
    async def nightly_digest(req: JobRequest) -> str:
        for n, user in enumerate(users, 1):
            if req.cancelled:
                return "stopped early"
            await req.progress(f"{n}/{len(users)} users")
            req.log.info("mailed %s", user)
        return "done"          # becomes the run's message

Data is reached through ``req.objects`` with ``req.ctx``: the job's own
Principal (master for app jobs, the agent's grants for a job an agent started).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backend.context import Principal, RequestContext
from backend.services.data.objects import ObjectService

MAX_LOG_LINES = 1_000
MAX_LINE = 2_000
FLUSH_EVERY = 0.25  # seconds between progress writes; more frequent calls are folded into the next write

Flush = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class JobLog:
    """Log lines kept on the run record (also sent to Python logging by the runner)."""

    lines: list[str] = field(default_factory=list)
    dropped: int = 0

    def _add(self, level: str, message: str, *args: object) -> None:
        text = message % args if args else message
        if len(self.lines) >= MAX_LOG_LINES:
            self.dropped += 1
            return
        self.lines.append(f"{level}: {text[:MAX_LINE]}")

    def info(self, message: str, *args: object) -> None:
        self._add("INFO", message, *args)

    def warning(self, message: str, *args: object) -> None:
        self._add("WARNING", message, *args)

    def error(self, message: str, *args: object) -> None:
        self._add("ERROR", message, *args)


@dataclass
class JobRequest:
    """The request object a job handler receives."""

    job_name: str
    job_id: str
    params: dict[str, Any]
    ctx: RequestContext
    objects: ObjectService
    attempt: int = 1
    log: JobLog = field(default_factory=JobLog)
    cancelled: bool = False
    progress_text: str | None = None
    message_text: str | None = None
    _flush: Flush | None = field(default=None, repr=False)
    _last_flush: float = field(default=0.0, repr=False)
    _dirty: bool = field(default=False, repr=False)

    @property
    def principal(self) -> Principal:
        return self.ctx.principal

    async def progress(self, text: str) -> None:
        """Report progress, e.g. ``"42/100 rows"``; visible on the run record while it runs."""
        self.progress_text = str(text)[:MAX_LINE]
        await self._changed()

    async def message(self, text: str) -> None:
        """Set the run's message (Parse's ``request.message``)."""
        self.message_text = str(text)[:MAX_LINE]
        await self._changed()

    async def _changed(self) -> None:
        self._dirty = True
        if time.monotonic() - self._last_flush >= FLUSH_EVERY:
            await self.flush()

    def pending(self) -> dict[str, Any]:
        """What changed since the last write, as run record fields."""
        fields: dict[str, Any] = {"log": list(self.log.lines)}
        if self.progress_text is not None:
            fields["progress"] = self.progress_text
        if self.message_text is not None:
            fields["message"] = self.message_text
        return fields

    async def flush(self) -> None:
        """Write progress, message and log lines to the run record now."""
        if self._flush is None or not self._dirty and not self.log.lines:
            return
        self._last_flush = time.monotonic()
        self._dirty = False
        await self._flush(self.pending())
