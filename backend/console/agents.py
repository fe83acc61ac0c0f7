"""Agents: create (token shown once), grants, rotate and revoke tokens, suspend and resume, the global switch.

The same ``AgentStore`` and ``PolicyStore`` calls as the CLI and the admin API; each action also leaves a
security record naming the console admin.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from agent_tools.stores.classes import POLICY
from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, decider, record, render
from backend.errors import ParseError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
EVENTS = {"suspend": "agent.suspend", "resume": "agent.resume", "grants": "agent.grants", "rotate": "agent.token",
          "revoke": "agent.revoke"}  # as the admin API names them


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


async def _page(request: Request, site: Console, session: ConsoleSession, status: int = 200,
                **notes: Any) -> HTMLResponse:
    await site.tools.ready()
    agents = [agent.to_wire() for agent in await site.tools.agents.all()]
    policy = await site.tools.policies.current()
    versions = await site.tools.records.find(POLICY, order="-version", limit=10)
    config = orjson.dumps(policy.config.model_dump(by_alias=True), option=orjson.OPT_INDENT_2).decode()
    return render(request, "agents.html", session, http_status=status, agents=agents, policy=policy.version,
                  read_only=policy.config.read_only, config=config, versions=versions, **notes)


@router.get("/agents")
async def agents_page(request: Request, site: Site, session: Viewer) -> HTMLResponse:
    return await _page(request, site, session)


@router.post("/agents")
async def create(request: Request, site: Site, session: Changer, name: Text = "", roles: Text = "",
                 grants: Text = "read:*") -> HTMLResponse:
    try:
        agent, token = await site.tools.agents.create(name.strip(), _words(roles), _words(grants))
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, "agent.create", target=agent.id, name=agent.name, grants=sorted(agent.grants))
    return await _page(request, site, session, token=token, token_for=agent.name)


@router.post("/agents/{agent_id}/{action}")
async def act(request: Request, agent_id: str, action: str, site: Site, session: Changer, roles: Text = "",
              grants: Text = "") -> HTMLResponse:
    agents = site.tools.agents
    notes: dict[str, Any] = {}
    try:
        if action in ("suspend", "resume"):
            await agents.set_status(agent_id, "suspended" if action == "suspend" else "active")
        elif action == "grants":
            await agents.set_grants(agent_id, _words(roles), _words(grants))
        elif action == "rotate":
            notes = {"token": await agents.issue_token(agent_id, revoke_others=True),
                     "token_for": (await agents.get(agent_id)).name}
        elif action == "revoke":
            notes = {"notice": f"{await agents.revoke_token(agent_id)} token(s) revoked."}
        else:
            return await _page(request, site, session, status=404, error=f"No action {action!r}.")
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    await record(site, session, EVENTS[action], target=agent_id)
    return await _page(request, site, session, **notes)


@router.post("/policy/read-only")
async def read_only(request: Request, site: Site, session: Changer, state: Text = "") -> HTMLResponse:
    policy = await site.tools.policies.update({"readOnly": state == "on"}, decider(session))
    await record(site, session, "policy.update", target=str(policy.version), readOnly=state == "on")
    return await _page(request, site, session, notice=f"Agents read-only {'on' if state == 'on' else 'off'}.")


@router.post("/policy")
async def edit_policy(request: Request, site: Site, session: Changer,
                      config: Annotated[str, Form(max_length=20_000)] = "") -> HTMLResponse:
    """A new policy version from the edited JSON (rates, budgets, over-cap behaviour, approval TTL, ...)."""
    try:
        changes = orjson.loads(config)
        if not isinstance(changes, dict):
            raise ValueError("not an object")
        policy = await site.tools.policies.update(changes, decider(session))
    except (ValueError, ParseError) as refused:  # orjson.JSONDecodeError is a ValueError
        message = refused.message if isinstance(refused, ParseError) else "The policy must be a JSON object."
        return await _page(request, site, session, status=400, error=message)
    await record(site, session, "policy.update", target=str(policy.version))
    return await _page(request, site, session, notice=f"Policy version {policy.version} saved.")
