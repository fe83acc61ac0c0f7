"""Process-wide logging: JSON lines when stdout is not a terminal, readable lines when it is.

Every record carries the id of the request it was written for (``request_id``, set by the access
middleware in a context variable), so an operator can follow one request through the log. The
level comes from the settings (``BALLAST_LOG_LEVEL``, Parse's ``PARSE_SERVER_LOG_LEVEL`` and
``VERBOSE``); uvicorn's own loggers propagate here instead of printing in their own format.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
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


# C0 and C1 control characters and DEL, as escapes: a logged value (a decoded request path) could otherwise start
# a forged line or send escape sequences to the terminal reading the readable lines (JSON lines escape them)
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))} | {0x0A: "\\n", 0x0D: "\\r"}


class _Readable(logging.Formatter):
    """One line per record: control characters in its message are escaped (a traceback after it stays as is)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).translate(_CONTROLS)


class _JsonLines(OrjsonFormatter):
    """The JSON formatter ``configure`` installs: its lines are what ``DirectLines`` writes without a record."""


def formatter(json_lines: bool) -> logging.Formatter:
    if json_lines:
        # uvicorn's color_message repeats the message with terminal escapes: not for a log pipeline
        return _JsonLines(_JSON_FIELDS, rename_fields=_RENAMED, reserved_attrs=[*RESERVED_ATTRS, "color_message"])
    return _Readable(_READABLE)


class DirectLines:
    """INFO lines of one logger written straight to Ballast's JSON handler, when that is where they would go.

    A logged line costs more than the line: the LogRecord, the JSON formatter's field walk and the handler
    chain took about 13 us of an access line's 16 (``logging`` with python-json-logger). When a record of
    ``logger`` would reach exactly one handler, the one ``configure`` installed, with the JSON formatter and
    only the request-id filter, ``write`` builds the same line (same keys in the same order, same time format)
    and writes and flushes it under the handler's lock, as ``StreamHandler.emit`` does. Any other set-up (a
    handler added by an operator or a test, readable lines, a filter) makes ``write`` answer False, and the
    caller logs the usual way.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._stamp = (-1, "")  # a second and its formatted time, one tuple so a reader never mixes two

    def _handler(self) -> _BallastHandler | None:
        logger: logging.Logger | None = self.logger
        if self.logger.filters or self.logger.disabled:
            return None
        root = logging.root
        while logger is not None and logger is not root:  # every logger a record passes must add nothing
            if logger.handlers or not logger.propagate:
                return None
            logger = logger.parent
        handlers = root.handlers
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if (type(handler) is not _BallastHandler or handler.level > logging.INFO or len(handler.filters) != 1
                or type(handler.filters[0]) is not _RequestIdFilter or type(handler.formatter) is not _JsonLines):
            return None
        return handler

    def _time(self, form: logging.Formatter) -> str:
        """The formatter's ``asctime`` for now (its converter and formats), the second's part formatted once."""
        second, millis = divmod(time.time_ns() // 1_000_000, 1000)
        cached, stamp = self._stamp
        if second != cached:
            stamp = time.strftime(form.default_time_format, form.converter(second))
            self._stamp = (second, stamp)
        return form.default_msec_format % (stamp, millis) if form.default_msec_format else stamp

    def write(self, message: str, fields: dict[str, Any]) -> bool:
        """Write an INFO line with ``fields`` after the standard ones; False when it must go through logging."""
        handler = self._handler()
        if handler is None or handler.formatter is None:
            return False
        line = {"time": self._time(handler.formatter), "level": "INFO", "logger": self.logger.name,
                "message": message, **fields}
        line["request_id"] = request_id.get()  # what the filter sets: in place when given, else last
        text = orjson.dumps(line, option=orjson.OPT_NON_STR_KEYS).decode() + handler.terminator
        try:
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(text)
                handler.flush()
        except Exception:  # noqa: BLE001 - a failing stream is reported by logging's own path (handleError)
            return False
        return True


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
