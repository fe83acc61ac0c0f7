"""What every console page shares: the Console state, templates, security headers, and the admin checks.

``Viewer`` (a signed-in admin) guards every page; ``Changer`` also checks the CSRF token of a change.
Both raise ``SignInRequired``, which the handler in ``site.py`` turns into a redirect to the sign-in page
(pages) or a 403 (changes and the event stream): nothing of the console answers without a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from agent_tools.faces.admin_auth import note
from agent_tools.wiring import AgentTools
from backend.api.auth import client_ip
from backend.console.sessions import COOKIE, ConsoleSession, Csrf
from backend.context import MASTER, RequestContext
from backend.errors import InvalidJSON
from backend.realtime.hub import Hub
from jobs.service import JobService

PREFIX = "/console"
# no inline script or style anywhere: scripts and styles only from /console/static
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


class SignInRequired(Exception):
    """No valid console session (or no valid CSRF token for a change)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Console:
    """The console's parts, built once per app."""

    tools: AgentTools
    jobs: JobService
    hub: Hub
    csrf: Csrf
    templates: Environment


def build_templates() -> Environment:
    env = Environment(loader=PackageLoader("backend.console", "templates"), autoescape=select_autoescape(default=True))
    env.globals["prefix"] = PREFIX
    return env


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def admin_context(request: Request, session: ConsoleSession | None = None) -> RequestContext:
    """The context console actions run in: master authority over the services (never an app user's, and the
    master key never leaves the server); the security records the services write name the admin."""
    return RequestContext(MASTER, ip=client_ip(request), actor=session.caller.name if session else None)


async def _viewer(request: Request) -> ConsoleSession:
    console = console_of(request)
    token = request.cookies.get(COOKIE)
    await console.tools.ready()
    admin = await console.tools.admins.resolve(token) if token else None
    if admin is None or token is None:
        raise SignInRequired("no console session")
    return ConsoleSession(admin, token, console.csrf.token_for(token), client_ip(request))


async def _signed(request: Request, session: Annotated[ConsoleSession, Depends(_viewer)]) -> ConsoleSession:
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = str((await request.form()).get("csrf") or "") or None
    if not console_of(request).csrf.matches(session, given):
        raise SignInRequired("missing or wrong CSRF token")
    return session


async def _changer(session: Annotated[ConsoleSession, Depends(_signed)]) -> ConsoleSession:
    if not session.admin.can_change:
        raise SignInRequired("this admin may look but not change")
    return session


Viewer = Annotated[ConsoleSession, Depends(_viewer)]
Signed = Annotated[ConsoleSession, Depends(_signed)]  # a post with its CSRF token
Changer = Annotated[ConsoleSession, Depends(_changer)]  # ... by an admin who may change things
Site = Annotated[Console, Depends(console_of)]


def render(request: Request, template: str, session: ConsoleSession | None, http_status: int = 200,
           **values: Any) -> HTMLResponse:
    console = console_of(request)
    page = console.templates.get_template(template).render(
        session=session, path=request.url.path, **values)
    return HTMLResponse(page, status_code=http_status, headers=HEADERS)


async def record(site: Console, session: ConsoleSession, event: str, target: str | None = None,
                 ok: bool = True, **details: Any) -> None:
    """The security record of a console action, naming the admin who did it: the admin API's event names,
    so the trail reads the same whichever face an admin used."""
    await note(site.tools, session.caller, event, target, details, ok=ok)


def json_object(text: str, what: str) -> dict[str, Any]:
    """A form field holding a JSON object (blank: {}); InvalidJSON naming ``what`` otherwise."""
    try:
        value = orjson.loads(text) if text.strip() else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidJSON(f"{what} must be a JSON object.")
    return value
