"""Security events: log-ins (failed ones too), lockouts, admin actions, master-key use; newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from backend.console.cards import shown
from backend.console.web import PREFIX, Site, Viewer, render
from backend.context import RequestContext
from backend.services.data.objects import FindOptions
from backend.services.data.security_log import CLASS

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50


@router.get("/security")
async def security_page(request: Request, site: Site, session: Viewer, page: int = 0, event: str = "",
                        failed: bool = False) -> HTMLResponse:
    where: dict[str, Any] = {}
    if event:
        where["event"] = event[:100]
    if failed:
        where["ok"] = False
    options = FindOptions(where=where, order="-createdAt", limit=PAGE + 1, skip=max(0, page) * PAGE)
    found = (await site.tools.services.objects.find(RequestContext.system(), CLASS, options)).results
    rows = [{"at": row.get("createdAt"), "event": row.get("event"), "actor": row.get("actor"),
             "target": row.get("target") or "", "ok": row.get("ok"), "ip": row.get("ip") or "",
             "details": shown(row.get("details") or {})} for row in found[:PAGE]]
    return render(request, "security.html", session, rows=rows, page=page, more=len(found) > PAGE, event=event,
                  failed=failed)
