"""/scriptlog: what cloud code logged, master key only (Parse Dashboard's Logs page)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from backend import wire
from backend.api.responses import ParseJSON
from backend.deps import MasterCtx, Svc
from backend.errors import IncorrectType
from backend.services.cloud.script_log import LogQuery

router = APIRouter(tags=["logs"])


def _moment(raw: str | None) -> datetime | None:
    """Parse's ``from``/``until``: a date it cannot read counts as not given."""
    try:
        return wire.parse_iso(raw) if raw else None
    except IncorrectType:
        return None


def _size(raw: str | None) -> int:
    try:
        size = int(float(raw)) if raw else 10
    except ValueError:
        return 10  # as Parse's Number(size) || 10
    return size if size > 0 else 10


@router.get("/scriptlog")
async def script_log(request: Request, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    params = request.query_params
    query = LogQuery(level=(params.get("level") or "info").lower(), since=_moment(params.get("from")),
                     until=_moment(params.get("until")), size=_size(params.get("n") or params.get("size")),
                     ascending=params.get("order") == "asc")
    return ParseJSON(await svc.script_log.read(query))
