"""Mounting the agent faces on an app: its state, the tool-call routes, the REST and admin routers.

Apart from the REST face (rest.py) because the admin routers import that face's ``Tools`` and ``PREFIX``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from agent_tools.faces.admin_api import router as admin_router
from agent_tools.faces.admins_api import router as admins_router
from agent_tools.faces.delegations_api import router as delegations_router
from agent_tools.faces.rest import TOOL_ROUTES, router
from agent_tools.wiring import AgentTools
from backend.services.wiring import Services


def mount(app: FastAPI, services: Services, jobs: Any = None) -> AgentTools:
    """Attach the gateway to an app: its state, the agent routes and the admin routes."""
    tools = AgentTools(services, jobs=jobs)
    app.state.agent_tools = tools
    # tool calls right after the Parse object routes (plain routes, first in the app): routes are tried in
    # order, and a call matched against every other Parse route first spent about a tenth of its CPU there
    routes = app.router.routes
    first = next((index for index, route in enumerate(routes) if not isinstance(route, Route)), len(routes))
    routes[first:first] = TOOL_ROUTES
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(admins_router)
    app.include_router(delegations_router)
    return tools
