"""The audit explorer: filtered, paginated records (a run's calls make its timeline), chain status, export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from agent_tools.pipeline.runs import replay as replay_run
from backend.console.cards import shown
from backend.console.web import HEADERS, PREFIX, Changer, Site, Viewer, record, render
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50
FILTERS = ("agentId", "runId", "tool", "decision", "outcome", "since", "until")


def _filters(request: Request) -> dict[str, Any]:
    return {key: request.query_params[key][:200] for key in FILTERS if request.query_params.get(key)}


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    return {"seq": entry.get("seq"), "at": entry.get("time") or "",
            "agent": entry.get("agentId") or "—", "run": entry.get("runId") or "", "tool": entry.get("tool") or "",
            "decision": entry.get("decision") or "", "rule": entry.get("rule") or "",
            "outcome": entry.get("outcome") or "", "by": entry.get("approvedBy") or "",
            "changed": len(entry.get("changed") or []), "context": len(entry.get("context") or []),
            "input": shown(entry.get("input")), "error": entry.get("error") or ""}


@router.get("/audit")
async def audit_page(request: Request, site: Site, session: Viewer, after: str = "") -> HTMLResponse:
    """A page of records after the cursor ``after`` (keyset paging: deep pages cost what the first does)."""
    await site.tools.ready()
    filters = _filters(request)
    timeline = "runId" in filters  # a run reads in order; everything else newest first
    export = urlencode(filters)
    try:
        found, following = await site.tools.audit.page(filters, PAGE, after[:200] or None, newest_first=not timeline)
    except ParseError as refused:
        return render(request, "audit.html", session, http_status=400, rows=[], filters=filters, export=export,
                      error=refused.message)
    return render(request, "audit.html", session, rows=[_row(entry) for entry in found], filters=filters,
                  export=export, first=bool(after), following=urlencode(filters | {"after": following}) if following
                  else None)


@router.get("/audit/export")
async def export(request: Request, site: Site, session: Viewer) -> StreamingResponse:
    await site.tools.ready()
    filters = _filters(request)
    await record(site, session, "audit.export", filters=filters)
    headers = HEADERS | {"Content-Disposition": 'attachment; filename="audit.jsonl"'}
    return StreamingResponse(site.tools.audit.export(filters), media_type="application/x-ndjson", headers=headers)


@router.post("/audit/verify")
async def verify(request: Request, site: Site, session: Changer) -> HTMLResponse:
    await site.tools.ready()
    report = (await site.tools.audit.verify()).to_wire()
    await record(site, session, "audit.verify", ok=bool(report.get("ok")))
    found, following = await site.tools.audit.page({}, PAGE, None, newest_first=True)
    return render(request, "audit.html", session, rows=[_row(entry) for entry in found], filters={}, export="",
                  chain=report, following=urlencode({"after": following}) if following else None)


@router.post("/audit/runs/{run_id}/replay")
async def replay(request: Request, run_id: str, site: Site, session: Changer) -> HTMLResponse:
    """Re-execute the run's calls dry (as ``ballast runs replay``: reads read-only, writes rolled back) and show
    what differs from what the agent saw then."""
    try:
        report = await replay_run(site.tools, run_id[:200])
    except ParseError as refused:
        return render(request, "replay.html", session, http_status=404, error=refused.message,
                      report={"runId": run_id[:200], "calls": [], "same": False, "replayed": 0, "different": 0})
    await record(site, session, "run.replay", run_id, different=report["different"])
    return render(request, "replay.html", session, report=report)
