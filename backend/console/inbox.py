"""The approvals inbox: pending cards (live), approve or deny one or many with a reason, and the history.

Every decision goes through ``admin_actions`` (the same function as the CLI and the admin API), which keeps its
audit record naming the console admin; a card whose preview is stale offers no approve button, and
``Approver.approve`` refuses it anyway.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from agent_tools.faces import admin_actions as actions
from agent_tools.model import keyset
from backend.console.cards import Card, card
from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, render
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 25
Reason = Annotated[str, Form(max_length=1000)]


async def _names(site: Console) -> dict[str, str]:
    return {agent.id: agent.name for agent in await site.tools.agents.all()}


async def _cards(site: Console, status: str | None, after: str, check: bool) -> tuple[list[Card], str | None]:
    """One page of cards (newest first) from the keyset cursor ``after``, and the next page's cursor."""
    await site.tools.ready()
    found = await site.tools.approvals.matching(status, limit=PAGE + 1, after=after[:200] or None)
    names = await _names(site)
    cards = []
    for approval in found[:PAGE]:
        pending = approval.get("status") == "pending"
        stale = await site.tools.approver.staleness(approval) if check and pending else None
        cards.append(card(approval, names, stale))
    last = found[PAGE - 1] if len(found) > PAGE else None
    return cards, keyset.cursor_of(last["createdAt"], last["objectId"]) if last else None


async def _inbox(request: Request, site: Console, session: ConsoleSession, after: str = "",
                 template: str = "approvals.html", **notes: Any) -> HTMLResponse:
    try:
        cards, following = await _cards(site, "pending", after, check=True)
    except ParseError as refused:
        return render(request, template, session, http_status=400, cards=[], after="", error=refused.message)
    return render(request, template, session, cards=cards, after=after, following=following, **notes)


@router.get("/approvals")
async def inbox_page(request: Request, site: Site, session: Viewer, after: str = "") -> HTMLResponse:
    return await _inbox(request, site, session, after)


@router.get("/approvals/cards")
async def inbox_cards(request: Request, site: Site, session: Viewer, after: str = "") -> HTMLResponse:
    """The card list alone: what the page fetches again when the event stream says something changed."""
    return await _inbox(request, site, session, after, template="_cards.html")


@router.get("/approvals/history")
async def history_page(request: Request, site: Site, session: Viewer, after: str = "",
                       status: str | None = None) -> HTMLResponse:
    try:
        cards, following = await _cards(site, status or None, after, check=False)
    except ParseError as refused:
        return render(request, "history.html", session, http_status=400, cards=[], status=status or "",
                      error=refused.message)
    return render(request, "history.html", session, cards=cards, after=after, following=following,
                  status=status or "")


async def _decide(site: Console, session: ConsoleSession, approval_id: str, approve: bool, reason: str) -> str:
    """Decide one approval; answers what happened, in words."""
    try:
        if approve:
            done = await actions.approve(site.tools, session.caller, approval_id)
        else:
            done = await actions.deny(site.tools, session.caller, approval_id, reason)
    except ParseError as refused:
        return f"{approval_id}: refused: {refused.message}"
    return f"{approval_id}: {done.get('status')}"


@router.post("/approvals/{approval_id}/approve")
async def approve(request: Request, approval_id: str, site: Site, session: Changer) -> HTMLResponse:
    return await _inbox(request, site, session, outcomes=[await _decide(site, session, approval_id, True, "")])


@router.post("/approvals/{approval_id}/deny")
async def deny(request: Request, approval_id: str, site: Site, session: Changer, reason: Reason = "") -> HTMLResponse:
    outcome = await _decide(site, session, approval_id, False, reason)
    return await _inbox(request, site, session, outcomes=[outcome])


@router.post("/approvals/bulk")
async def bulk(request: Request, site: Site, session: Changer, action: Annotated[str, Form()] = "",
               ids: Annotated[list[str] | None, Form()] = None, reason: Reason = "") -> HTMLResponse:
    if action not in ("approve", "deny"):
        return await _inbox(request, site, session, outcomes=["Choose approve or deny."])
    chosen = (ids or [])[:PAGE]
    outcomes = [await _decide(site, session, approval_id, action == "approve", reason) for approval_id in chosen]
    return await _inbox(request, site, session, outcomes=outcomes or ["Nothing selected."])
