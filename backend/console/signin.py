"""Signing in and out of the console: the admin API's own sign-in (rate limit, security records), as a page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent_tools.faces.admin_auth import AdminRefused, admin_sign_in
from agent_tools.stores.admins import SESSION_HOURS, AdminLoginFailed
from backend.api.auth import client_ip
from backend.console.sessions import COOKIE
from backend.console.web import HEADERS, PREFIX, Signed, Site, record, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/signin")
async def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "signin.html", None)


@router.post("/signin")
async def sign_in(request: Request, site: Site, name: Annotated[str, Form(max_length=64)] = "",
                  secret: Annotated[str, Form(max_length=4096)] = "") -> Response:
    try:
        session = await admin_sign_in(site.tools, name, secret, client_ip(request))
    except AdminRefused:
        return render(request, "signin.html", None, http_status=429, error="Too many attempts; wait a minute.")
    except AdminLoginFailed:
        return render(request, "signin.html", None, http_status=401, error="Sign-in failed.", name=name)
    answer = RedirectResponse(f"{PREFIX}/approvals", status_code=303, headers=HEADERS)
    answer.set_cookie(COOKIE, session.token, max_age=SESSION_HOURS * 3600, path=PREFIX, httponly=True,
                      samesite="strict", secure=request.url.scheme == "https")
    return answer


@router.post("/signout")
async def sign_out(request: Request, site: Site, session: Signed) -> Response:
    await site.tools.admins.end(session.token)  # on every instance: the token is dead, not just forgotten
    await record(site, session, "admin.logout", session.admin.id)
    answer = RedirectResponse(f"{PREFIX}/signin", status_code=303, headers=HEADERS)
    answer.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return answer
