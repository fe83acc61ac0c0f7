"""Roles: the hierarchy with members; create roles, add and remove users and child roles.

Through the same ``ObjectService`` the Parse API uses, with master authority inside the server (the master
key never reaches the browser); the role guard checks names and writes the security record, which names the
console admin. A Parse role never grants console or agent admin power, whatever its name: admins live apart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, admin_context, render
from backend.errors import ParseError
from backend.services.identity import directory

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50
Name = Annotated[str, Form(max_length=128)]
KEYS = {"users": "users", "children": "roles"}  # the form's word -> the role's relation


async def _page(request: Request, site: Console, session: ConsoleSession, page: int = 0, status: int = 200,
                **notes: Any) -> HTMLResponse:
    found = await directory.roles(site.tools.services.objects, admin_context(request, session),
                                  skip=max(0, page) * PAGE, limit=PAGE + 1)
    return render(request, "roles.html", session, http_status=status, roles=found[:PAGE], page=page,
                  more=len(found) > PAGE, **notes)


@router.get("/roles")
async def roles_page(request: Request, site: Site, session: Viewer, page: int = 0) -> HTMLResponse:
    return await _page(request, site, session, page)


@router.post("/roles")
async def create_role(request: Request, site: Site, session: Changer, name: Name = "") -> HTMLResponse:
    try:
        await directory.create_role(site.tools.services.objects, admin_context(request, session), name.strip())
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    return await _page(request, site, session, notice=f"Role {name.strip()} created.")


@router.post("/roles/{role}/{members}/{action}")
async def change(request: Request, role: str, members: str, action: str, site: Site, session: Changer,
                 name: Name = "") -> HTMLResponse:
    """Add or remove a member: a user (by username) or a child role (by name), whose members inherit ``role``."""
    if members not in KEYS or action not in ("add", "remove"):
        return await _page(request, site, session, status=404, error="No such change.")
    try:
        await directory.change_members(site.tools.services.objects, admin_context(request, session), role,
                                       KEYS[members], name.strip(), action == "add")
    except ParseError as refused:
        return await _page(request, site, session, status=400, error=refused.message)
    done = "added to" if action == "add" else "removed from"
    return await _page(request, site, session, notice=f"{name.strip()} {done} {role}.")
