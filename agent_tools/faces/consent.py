"""The consent page of the authorization code flow: a human signs in and chooses what an MCP client gets.

``/oauth/authorize`` (the MCP SDK's handler) checks the client, its redirect URI
and PKCE challenge, then sends the browser here with that request signed. The
human signs in (a Ballast app user, or a console admin, each with their own
password; the master key is never typed into this page), names the agent the client will act
as, and picks the scopes and, optionally, an intent. An app user may only bind
an agent they own; an admin may bind any agent or create one. The decision is
recorded in the security log; the client gets a one-time code at its redirect
URI (or ``access_denied``). The form carries the sign-in itself (no cookie), so
a forged cross-site post has nothing to ride on; the page may not be framed.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from mcp.server.auth.provider import construct_redirect_uri
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agent_tools.faces.admin_auth import SIGN_IN_RATE, admin_sign_in
from agent_tools.stores.agents import Agent
from agent_tools.stores.oauth_tokens import CONSENT_PATH, SCOPES, WRITE_SCOPE
from backend.api.auth import client_ip
from backend.context import ANONYMOUS, RequestContext
from backend.errors import ParseError

if TYPE_CHECKING:
    from agent_tools.wiring import AgentTools

PAGE_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class Refused(Exception):
    """The form cannot be granted as filled in; the page is shown again with this message."""


@dataclass(frozen=True)
class Human:
    """Who consented: a console admin or an app user."""

    admin: bool
    user_id: str | None
    admin_name: str | None = None

    @property
    def actor(self) -> str:
        return f"admin:{self.admin_name}" if self.admin else str(self.user_id)


class ConsentPage:
    def __init__(self, tools: AgentTools) -> None:
        self.tools = tools

    async def show(self, request: Request) -> Response:
        pending = self.tools.oauth.unsign(request.query_params.get("request", ""), CONSENT_PATH)
        if pending is None:
            return _expired()
        return await self._page(request.query_params["request"], pending)

    async def decide(self, request: Request) -> Response:
        form = await request.form()
        signed = _field(form, "request")
        pending = self.tools.oauth.unsign(signed, CONSENT_PATH)
        if pending is None:
            return _expired()
        if _field(form, "decision") != "allow":
            return RedirectResponse(construct_redirect_uri(pending["redirect"], error="access_denied",
                                                           state=pending.get("state")), 302)
        try:
            human = await self._sign_in(request, form)
            agent = await self._agent(human, form)
            scopes = self._scopes(pending, form)
            run = await self._run(form)
        except Refused as refused:
            return await self._page(signed, pending, str(refused), status=400)
        code = await self.tools.grants.issue_code(pending, agent.id, scopes, run)
        details = {"clientId": pending["cid"], "scopes": scopes, "intent": run["intent"] if run else None}
        await self.tools.services.identity.security.record(
            RequestContext(ANONYMOUS, ip=client_ip(request)), "oauth.consent", target=agent.id, details=details,
            actor=human.actor)
        return RedirectResponse(construct_redirect_uri(pending["redirect"], code=code, state=pending.get("state")),
                                302)

    async def _sign_in(self, request: Request, form: FormData) -> Human:
        ip = client_ip(request) or "unknown"
        username, password = _field(form, "username"), _field(form, "password")
        if _field(form, "as") == "admin":  # the admin API's own sign-in: rate limited, every attempt recorded
            try:
                session = await admin_sign_in(self.tools, username, password, ip)
            except ParseError:
                raise Refused("Admin sign-in failed: check the admin name and password.") from None
            await self.tools.admins.end(session.token)  # consent needs no admin session: none is left behind
            if not session.admin.can_change:
                raise Refused("A viewer admin cannot bind or create agents.")
            return Human(True, None, session.admin.username)
        if not await self.tools.limits.hit(SIGN_IN_RATE, "consent-sign-in", ip):
            raise Refused("Too many sign-in attempts from this address; wait a minute.")
        try:
            login = await self.tools.services.identity.accounts.log_in(
                RequestContext(ANONYMOUS, ip=ip), username, None, password)
        except ParseError:
            raise Refused("Sign-in failed: check the username and password.") from None
        return Human(False, str(login.user["objectId"]))

    async def _agent(self, human: Human, form: FormData) -> Agent:
        name = _field(form, "agent").strip()
        if not name:
            raise Refused("Name the agent this client will act as.")
        await self.tools.ready()
        try:
            agent = await self.tools.agents.find(name)
        except ParseError:
            if not human.admin:
                raise Refused(f"You own no agent named {name!r}; an admin can create it for you.") from None
            grants = [grant.strip() for grant in _field(form, "grants").split(",") if grant.strip()] or ["read:*"]
            try:
                agent, _ = await self.tools.agents.create(name, [], grants, None, None)
            except ParseError as error:  # an unknown grant: the page says which, and where the valid ones are
                raise Refused(error.message) from None
            return agent
        if not human.admin and agent.owner != human.user_id:
            raise Refused(f"You own no agent named {name!r}; an admin can create it for you.")
        if agent.status != "active":
            raise Refused(f"Agent {agent.name} is {agent.status}.")
        return agent

    def _scopes(self, pending: dict[str, Any], form: FormData) -> list[str]:
        asked = set(pending.get("scopes") or SCOPES)
        chosen = sorted(scope for scope in SCOPES if scope in asked and form.get(f"scope:{scope}"))
        if not chosen:
            raise Refused("Choose at least one scope.")
        return chosen

    async def _run(self, form: FormData) -> dict[str, Any] | None:
        """An intent narrows every call of the client to one run of it (as a run token does)."""
        name = _field(form, "intent").strip()
        if not name:
            return None
        try:
            params = orjson.loads(_field(form, "params") or "{}")
            if not isinstance(params, dict):
                raise ValueError("not an object")
            await self.tools.intents.bind(name, params)
        except (ParseError, ValueError) as error:
            raise Refused(f"Intent {name!r} cannot be used: {error}") from None
        return {"runId": "run_" + secrets.token_hex(8), "intent": name, "params": params}

    async def _page(self, signed: str, pending: dict[str, Any], problem: str = "", status: int = 200) -> Response:
        client = await self.tools.grants.get_client(str(pending["cid"]))
        label = html.escape(client.client_name or client.client_id or "") if client else "an unknown client"
        asked = set(pending.get("scopes") or SCOPES)
        boxes = "".join(f'<label><input type="checkbox" name="scope:{s}" value="1"'
                        f'{"" if s == WRITE_SCOPE else " checked"}> {s}</label><br>' for s in SCOPES if s in asked)
        body = PAGE.format(client=label, redirect=html.escape(str(pending["redirect"])), boxes=boxes,
                           request=html.escape(signed, quote=True),
                           problem=f'<p class="problem">{html.escape(problem)}</p>' if problem else "")
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _expired() -> Response:
    return HTMLResponse("<!doctype html><title>Ballast</title><p>This sign-in request is invalid or has expired. "
                        "Start again from your MCP client.</p>", status_code=400, headers=PAGE_HEADERS)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Connect an MCP client to Ballast</title>
<style>body{{font-family:sans-serif;max-width:34em;margin:2em auto}}fieldset{{margin:1em 0}}
.problem{{color:#a00}}</style></head><body>
<h1>Connect {client}</h1>
<p>{client} asks to call Ballast's agent tools. It will be sent back to <code>{redirect}</code>.</p>
{problem}
<form method="post">
<input type="hidden" name="request" value="{request}">
<fieldset><legend>Sign in</legend>
<label>Username <input name="username" autocomplete="username"></label><br>
<label>Password <input name="password" type="password" autocomplete="current-password"></label><br>
<label><input type="checkbox" name="as" value="admin"> I am a console admin (signing in with my admin name)</label>
</fieldset>
<fieldset><legend>Act as agent</legend>
<label>Agent name <input name="agent" required></label><br>
<label>Grants, if an admin creates it <input name="grants" value="read:*"></label></fieldset>
<fieldset><legend>Allow</legend>{boxes}
<label>Intent (optional) <input name="intent"></label><br>
<label>Intent parameters (JSON) <input name="params" value="{{}}"></label></fieldset>
<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button>
</form></body></html>
"""
