"""Agents: create (token shown once), grants, rotate and revoke tokens, suspend and resume, the global switch.

Each action is the one function the CLI and the admin API call too (agent_tools/faces/admin_actions.py), which
also leaves the security record naming the console admin.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from agent_tools.faces import admin_actions as actions
from agent_tools.stores.classes import POLICY
from agent_tools.stores.intents import FIELD_POLICY
from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, json_object, render
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


async def _page(request: Request, site: Console, session: ConsoleSession, status: int = 200,
                **notes: Any) -> HTMLResponse:
    await site.tools.ready()
    agents = [agent.to_wire() for agent in await site.tools.agents.all()]
    policy = await site.tools.policies.current()
    versions = await site.tools.records.find(POLICY, order="-version", limit=10)
    config = orjson.dumps(policy.config.model_dump(by_alias=True), option=orjson.OPT_INDENT_2).decode()
    intents = [spec.model_dump(by_alias=True) for spec in await site.tools.intents.all()]
    fields = await site.tools.records.find(FIELD_POLICY, order="className", limit=200)
    return render(request, "agents.html", session, http_status=status, agents=agents, policy=policy.version,
                  read_only=policy.config.read_only, config=config, versions=versions, intents=intents,
                  field_policies=fields, **notes)


@router.get("/agents")
async def agents_page(request: Request, site: Site, session: Viewer) -> HTMLResponse:
    return await _page(request, site, session)


@router.post("/agents")
async def create(request: Request, site: Site, session: Changer, name: Text = "", roles: Text = "",
                 grants: Text = "read:*") -> HTMLResponse:
    try:
        agent, token = await actions.create_agent(site.tools, session.caller, name.strip(), _words(roles),
                                                  _words(grants))
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, token=token, token_for=agent.name)


@router.post("/agents/{agent_id}/{action}")
async def act(request: Request, agent_id: str, action: str, site: Site, session: Changer, roles: Text = "",
              grants: Text = "") -> HTMLResponse:
    tools, caller = site.tools, session.caller
    notes: dict[str, Any] = {}
    try:
        if action in ("suspend", "resume"):
            await actions.set_status(tools, caller, agent_id, "suspended" if action == "suspend" else "active")
        elif action == "grants":
            await actions.set_grants(tools, caller, agent_id, _words(roles), _words(grants))
        elif action == "rotate":
            notes = {"token": await actions.issue_token(tools, caller, agent_id, revoke_others=True),
                     "token_for": (await tools.agents.get(agent_id)).name}
        elif action == "revoke":
            notes = {"notice": f"{(await actions.revoke_tokens(tools, caller, agent_id))['revoked']} token(s) revoked."}
        else:
            return await _page(request, site, session, status=404, error=f"No action {action!r}.")
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, **notes)


@router.post("/policy/read-only")
async def read_only(request: Request, site: Site, session: Changer, state: Text = "") -> HTMLResponse:
    await actions.update_policy(site.tools, session.caller, {"readOnly": state == "on"})
    return await _page(request, site, session, notice=f"Agents read-only {'on' if state == 'on' else 'off'}.")


@router.post("/policy")
async def edit_policy(request: Request, site: Site, session: Changer,
                      config: Annotated[str, Form(max_length=20_000)] = "") -> HTMLResponse:
    """A new policy version from the edited JSON (rates, budgets, over-cap behaviour, approval TTL, ...)."""
    try:
        policy = await actions.update_policy(site.tools, session.caller, json_object(config, "The policy"))
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, notice=f"Policy version {policy.version} saved.")
