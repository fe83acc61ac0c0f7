"""The script log behind ``GET /scriptlog`` (Parse Dashboard's Logs page).

What cloud code writes with ``req.log`` (Parse's ``console.log``/``request.log``), and the errors
of its functions, triggers and jobs (the ``ballast.cloud`` and ``ballast.jobs`` loggers), are
kept as ``_ScriptLog`` rows: an internal class, so no Parse route reads or writes it, and every
instance on PostgreSQL sees the others' lines. A logging handler only queues a record (it must
never block or await); ``flush`` writes the queue, every ``FLUSH_SECONDS`` and before each read,
and prunes the table to ``keep`` rows. Lines are cut to ``MAX_MESSAGE`` characters, keep no
traceback, and keys and session tokens are masked: the log must hold no secret.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend import wire
from backend.context import RequestContext
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.data.schemas import MASTER_ONLY_CLP
from backend.services.shared.periodic import Periodic

CLASS = "_ScriptLog"
LOGGERS = {"ballast.cloud": logging.INFO, "ballast.jobs": logging.WARNING}
MAX_MESSAGE = 4000
FLUSH_SECONDS = 2.0
DEFAULT_WINDOW = timedelta(days=7)  # Parse's default ``from``: a week ago
SESSION_TOKEN = re.compile(r"r:[0-9a-fA-F]{32}")
log = logging.getLogger("ballast.scriptlog")  # not captured: its own failures must not feed the queue


@dataclass(frozen=True)
class LogQuery:
    """``/scriptlog``'s parameters, already checked."""

    level: str = "info"
    since: datetime | None = None
    until: datetime | None = None
    size: int = 10
    ascending: bool = False


def _date(moment: datetime) -> dict[str, str]:
    return {"__type": "Date", "iso": wire.format_iso(moment)}


def level_name(levelno: int) -> str:
    """Python's level -> winston's name, as Parse's entries carry it."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    return "info" if levelno >= logging.INFO else "verbose"


class _Capture(logging.Handler):
    def __init__(self, owner: ScriptLog, level: int) -> None:
        super().__init__(level)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.owner.queue(record)
        except Exception:  # a log line must never break the code that wrote it
            self.handleError(record)


class ScriptLog:
    def __init__(self, objects: ObjectService, secrets: Iterable[str | None], level: int = logging.INFO,
                 keep: int = 1000) -> None:
        self.objects = objects
        self.level = level  # the server's log level decides what is kept, as Parse's logLevel does
        self.keep = keep
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.pending: deque[dict[str, Any]] = deque(maxlen=keep)
        self.ctx = RequestContext.internal()
        self._handlers: list[tuple[logging.Logger, _Capture, int]] = []
        self._flusher = Periodic(FLUSH_SECONDS, self.flush, log, "writing the script log")

    def masked(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return SESSION_TOKEN.sub("r:********", text)[:MAX_MESSAGE]

    def queue(self, record: logging.LogRecord) -> None:
        moment = datetime.fromtimestamp(record.created, UTC)
        self.pending.append({"level": level_name(record.levelno), "message": self.masked(record.getMessage()),
                             "timestamp": _date(moment), "seq": record.created})

    async def start(self) -> None:
        async with self.objects.db.unit() as unit:  # master-only: the lines are for the app's operators
            await self.objects.schemas.ensure_class(unit, CLASS, {"classLevelPermissions": MASTER_ONLY_CLP})
        for name, floor in LOGGERS.items():
            logger, level = logging.getLogger(name), max(floor, self.level)
            handler = _Capture(self, level)
            logger.addHandler(handler)
            self._handlers.append((logger, handler, logger.level))
            if logger.getEffectiveLevel() > level:  # a quieter root (no configured logging) must not hide them
                logger.setLevel(level)
        self._flusher.start()

    async def stop(self) -> None:
        for logger, handler, level in self._handlers:
            logger.removeHandler(handler)
            logger.setLevel(level)
        self._handlers.clear()
        await self._flusher.stop()
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> None:
        """Write the queued lines, then drop the oldest rows beyond ``keep``."""
        lines = [self.pending.popleft() for _ in range(len(self.pending))]
        if not lines:
            return
        async with self.objects.db.unit() as unit:
            for line in lines:
                await self.objects.create(self.ctx, CLASS, line, unit=unit)
        total = await self.objects.count(self.ctx, CLASS)
        if total > self.keep:
            oldest = FindOptions(order="seq", limit=min(total - self.keep, 1000), keys="objectId")
            for row in (await self.objects.find(self.ctx, CLASS, oldest)).results:
                await self.objects.delete(self.ctx, CLASS, row["objectId"])

    async def read(self, query: LogQuery) -> list[dict[str, Any]]:
        """Entries as Parse answers them: ``{level, message, timestamp}``, newest first unless ascending."""
        await self.flush()
        now = datetime.now(UTC)
        span = {"$gte": _date(query.since or now - DEFAULT_WINDOW), "$lte": _date(query.until or now)}
        where: dict[str, Any] = {"timestamp": span}
        if query.level == "error":  # Parse's error file holds errors only; its info file holds everything
            where["level"] = "error"
        options = FindOptions(where=where, order="seq" if query.ascending else "-seq",
                              limit=min(query.size, self.keep), keys="level,message,timestamp")
        rows = (await self.objects.find(self.ctx, CLASS, options)).results
        return [{"level": row["level"], "message": row["message"], "timestamp": row["timestamp"]["iso"]}
                for row in rows]
