"""Mount the console on the app: its routers, its static files, and the sign-in redirect."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from agent_tools.stores.classes import APPROVAL
from agent_tools.wiring import AgentTools
from backend.console import (
    agents,
    audit,
    inbox,
    insights_page,
    intents_pages,
    jobs_pages,
    live,
    roles_pages,
    security,
    signin,
    users_pages,
)
from backend.console.sessions import Csrf
from backend.console.web import HEADERS, PREFIX, Console, SignInRequired, build_templates
from backend.realtime.hub import Hub
from jobs.service import JobService


def mount(app: FastAPI, tools: AgentTools, jobs: JobService, hub: Hub) -> Console:
    console = Console(tools, jobs, hub, Csrf(tools.services.settings.master_key), build_templates())
    app.state.console = console
    hub.keep_live(APPROVAL)  # this instance's approval changes reach consoles open on the others
    for module in (signin, inbox, live, audit, agents, intents_pages, insights_page, roles_pages, users_pages,
                   jobs_pages, security):
        app.include_router(module.router)
    app.add_api_route(PREFIX, _home, methods=["GET"], include_in_schema=False)
    static = StaticFiles(directory=str(files("backend.console") / "static"))
    app.mount(f"{PREFIX}/static", static, name="console-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    return console


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)


async def _sign_in_required(request: Request, error: SignInRequired) -> Response:
    if request.method == "GET" and request.url.path != f"{PREFIX}/events":
        return RedirectResponse(f"{PREFIX}/signin", status_code=303, headers=HEADERS)
    return PlainTextResponse(f"Forbidden: {error.reason}.", status_code=403, headers=HEADERS)
