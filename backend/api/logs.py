"""/scriptlog: what cloud code logged, master key only (Parse Dashboard's Logs page)."""

from __future__ import annotations

import re
import sys
from datetime import datetime

from fastapi import APIRouter, Request

from backend import wire
from backend.api.responses import ParseJSON
from backend.deps import MasterCtx, Svc
from backend.errors import IncorrectType
from backend.services.cloud.script_log import LogQuery

router = APIRouter(tags=["logs"])
DEFAULT_SIZE = 10
# what JavaScript's Number() reads as a decimal number (Python's float() also takes "inf", "nan", "1_0")
JS_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity")


def _moment(raw: str | None) -> datetime | None:
    """Parse's ``from``/``until``: a date it cannot read counts as not given."""
    try:
        return wire.parse_iso(raw) if raw else None
    except IncorrectType:
        return None


def _size(raw: str | None) -> int:
    """Parse's ``Number(size) || 10``: an unreadable (or NaN, zero, negative) size is 10 lines, and a size
    beyond any float (``1e400``, ``Infinity``) is every line kept, never an overflow."""
    readable = JS_NUMBER.fullmatch(raw.strip()) if raw else None
    size = float(readable.group()) if readable else 0.0
    if size < 1:
        return DEFAULT_SIZE
    return int(min(size, sys.maxsize))


@router.get("/scriptlog")
async def script_log(request: Request, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    params = request.query_params
    query = LogQuery(level=params.get("level") or "info", since=_moment(params.get("from")),
                     until=_moment(params.get("until")), size=_size(params.get("n") or params.get("size")),
                     ascending=params.get("order") == "asc")
    return ParseJSON(await svc.script_log.read(query))
