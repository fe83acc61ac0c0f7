"""Insights: per agent and per tool, calls over time, denials by rule, approvals pending and time to decide.

Charts are inline SVG drawn on the server (no script, no chart library, no inline style: the strict CSP holds);
the numbers come from ``agent_tools.faces.insights`` (indexed counts, never the audit rows themselves).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agent_tools.faces.insights import WINDOWS, Count, gather
from backend.console.web import PREFIX, Site, Viewer, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)
WIDTH, HEIGHT, BAR = 720, 160, 18  # the time chart's drawing area; a bar chart row's height


@dataclass(frozen=True)
class Column:
    """One bucket of the time chart: the whole bar (calls) and its denied part, in SVG units."""

    label: str
    calls: int
    denied: int
    x: float
    width: float
    y: float
    height: float
    denied_y: float
    denied_height: float


def columns(buckets: list[Count]) -> list[Column]:
    top = max((bucket.calls for bucket in buckets), default=0) or 1
    width = WIDTH / max(len(buckets), 1)
    shown = []
    for n, bucket in enumerate(buckets):
        height = HEIGHT * bucket.calls / top
        denied = HEIGHT * bucket.denied / top
        shown.append(Column(bucket.name, bucket.calls, bucket.denied, n * width + 2,
                            width - 4, HEIGHT - height, height, HEIGHT - denied, denied))
    return shown


def scaled(rows: list[Count]) -> list[tuple[Count, float, float]]:
    """Each row with its bar's length and its denied part's, out of 100."""
    top = max((row.calls for row in rows), default=0) or 1
    return [(row, 100 * row.calls / top, 100 * row.denied / top) for row in rows]


@router.get("/insights")
async def insights_page(request: Request, site: Site, session: Viewer, window: str = "24h") -> HTMLResponse:
    await site.tools.ready()
    found = await gather(site.tools, window)
    median = found.median_decide_seconds
    return render(request, "insights.html", session, found=found, windows=list(WINDOWS), columns=columns(found.buckets),
                  agents=scaled(found.agents), tools=scaled(found.tools), rules=scaled(found.rules),
                  width=WIDTH, height=HEIGHT, bar=BAR, median=_duration(median) if median is not None else "—")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
