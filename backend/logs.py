"""Process-wide logging: JSON lines when stdout is not a terminal, readable lines when it is.

Every record carries the id of the request it was written for (``request_id``, set by the access
middleware in a context variable), so an operator can follow one request through the log. The
level comes from the settings (``BALLAST_LOG_LEVEL``, Parse's ``PARSE_SERVER_LOG_LEVEL`` and
``VERBOSE``); uvicorn's own loggers propagate here instead of printing in their own format.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

request_id: ContextVar[str | None] = ContextVar("ballast_request_id", default=None)

_READABLE = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


class _RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _BallastHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure`` installs, so configuring again replaces it instead of doubling lines."""


def formatter(json_lines: bool) -> logging.Formatter:
    if json_lines:
        # uvicorn's color_message repeats the message with terminal escapes: not for a log pipeline
        return OrjsonFormatter(_JSON_FIELDS, rename_fields=_RENAMED, reserved_attrs=[*RESERVED_ATTRS, "color_message"])
    return logging.Formatter(_READABLE)


def configure(level: int, json_lines: bool | None = None, stream: TextIO | None = None) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (stdout), one line each."""
    stream = stream or sys.stdout
    handler = _BallastHandler(stream)
    handler.setFormatter(formatter(not stream.isatty() if json_lines is None else json_lines))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BallastHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's records reach this handler, once
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
