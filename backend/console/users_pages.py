"""Users: find and create them, reset a password (the Parse reset mail, or a new one set by the admin), see a
user's roles and sessions and end them.

Through the services the Parse API uses, with master authority inside the server; the user guard hashes the
password and ends the user's sessions, and the services' security records name the console admin.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from backend.console.sessions import ConsoleSession
from backend.console.web import PREFIX, Changer, Console, Site, Viewer, admin_context, record, render
from backend.errors import ParseError
from backend.services.data.objects import FindOptions
from backend.services.identity import directory

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50
Field = Annotated[str, Form(max_length=256)]


async def _list(request: Request, site: Console, session: ConsoleSession, q: str = "", page: int = 0,
                status: int = 200, **notes: Any) -> HTMLResponse:
    where = {"username": {"$regex": "^" + re.escape(q[:100])}} if q else {}
    options = FindOptions(where=where, order="username", skip=max(0, page) * PAGE, limit=PAGE + 1)
    found = (await site.tools.services.objects.find(admin_context(request, session), "_User", options)).results
    return render(request, "users.html", session, http_status=status, users=found[:PAGE], q=q, page=page,
                  more=len(found) > PAGE, **notes)


async def _user(request: Request, site: Console, session: ConsoleSession, user_id: str, status: int = 200,
                **notes: Any) -> HTMLResponse:
    objects, ctx = site.tools.services.objects, admin_context(request, session)
    try:
        user = await directory.one(objects, ctx, "_User", "objectId", user_id)
    except ParseError as missing:
        return await _list(request, site, session, status=404, error=missing.message)
    return render(request, "user.html", session, http_status=status, user=user,
                  roles=await directory.roles_of(objects, ctx, user_id),
                  sessions=await directory.sessions_of(objects, ctx, user_id), **notes)


@router.get("/users")
async def users_page(request: Request, site: Site, session: Viewer, q: str = "", page: int = 0) -> HTMLResponse:
    return await _list(request, site, session, q, page)


@router.get("/users/{user_id}")
async def user_page(request: Request, user_id: str, site: Site, session: Viewer) -> HTMLResponse:
    return await _user(request, site, session, user_id)


@router.post("/users")
async def create_user(request: Request, site: Site, session: Changer, username: Field = "", password: Field = "",
                      email: Field = "") -> HTMLResponse:
    fields = {"username": username.strip(), "password": password} | ({"email": email.strip()} if email else {})
    try:
        saved = await site.tools.services.objects.create(admin_context(request, session), "_User", fields)
    except ParseError as refused:
        return await _list(request, site, session, status=400, error=refused.message)
    await record(site, session, "user.create", saved["objectId"], username=username.strip())
    return await _list(request, site, session, notice=f"User {username.strip()} created.")


@router.post("/users/{user_id}/password")
async def reset_password(request: Request, user_id: str, site: Site, session: Changer, mode: Field = "mail",
                         password: Field = "") -> HTMLResponse:
    """``mode=mail``: Parse's reset mail to the user's address; ``mode=set``: the admin sets a new password
    (the user's sessions end, as a new password always ends them)."""
    objects, ctx = site.tools.services.objects, admin_context(request, session)
    try:
        user = await directory.one(objects, ctx, "_User", "objectId", user_id)
        if mode == "set":
            await objects.update(ctx, "_User", user_id, {"password": password})
            notice = "New password set; the user's sessions ended."
        elif user.get("email"):
            await site.tools.services.identity.accounts.request_password_reset(ctx, user["email"])
            notice = f"Password reset mail sent to {user['email']}."
        else:
            return await _user(request, site, session, user_id, status=400,
                               error="This user has no e-mail address: set a new password instead.")
    except ParseError as refused:
        return await _user(request, site, session, user_id, status=400, error=refused.message)
    return await _user(request, site, session, user_id, notice=notice)


@router.post("/users/{user_id}/sessions/{session_id}/end")
async def end_session(request: Request, user_id: str, session_id: str, site: Site,
                      session: Changer) -> HTMLResponse:
    try:
        await site.tools.services.identity.accounts.revoke_session(admin_context(request, session), session_id)
    except ParseError as refused:
        return await _user(request, site, session, user_id, status=400, error=refused.message)
    return await _user(request, site, session, user_id, notice=f"Session {session_id} ended.")
