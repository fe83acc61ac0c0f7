"""Run intents and field policies, on the agents page: the same admin actions as the CLI and the admin API.

An intent is a task-shaped slice of an agent's rights (tools, classes, fields, rows, an object budget); a
field policy marks a class's user-written (untrusted) and sensitive fields.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from agent_tools.faces import admin_actions as actions
from backend.console.agents import _page, _words
from backend.console.web import PREFIX, Changer, Site, json_object
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form(max_length=20_000)]


@router.post("/intents")
async def define(request: Request, site: Site, session: Changer, spec: Text = "") -> HTMLResponse:
    """Create or replace an intent from its JSON."""
    try:
        saved = await actions.define_intent(site.tools, session.caller, json_object(spec, "The intent"))
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message, intent_draft=spec)
    return await _page(request, site, session, notice=f"Intent {saved.name} saved.")


@router.post("/intents/{name}/delete")
async def remove(request: Request, name: str, site: Site, session: Changer) -> HTMLResponse:
    try:
        await actions.remove_intent(site.tools, session.caller, name)
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, notice=f"Intent {name} deleted; its run tokens stop working.")


@router.post("/fields")
async def field_policy(request: Request, site: Site, session: Changer, class_name: Text = "",
                       untrusted: Text = "", sensitive: Text = "") -> HTMLResponse:
    """A class's field policy: which fields users write (shown to agents apart) and which are sensitive."""
    name = class_name.strip()
    try:
        await actions.set_fields(site.tools, session.caller, name, {"untrusted": _words(untrusted),
                                                                     "sensitive": _words(sensitive)})
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, notice=f"Field policy of {name} saved.")
