"""Signing in and out of the console: rate-limited per address, every attempt on the security trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.api.auth import client_ip
from console.sessions import COOKIE, SESSION_SECONDS
from console.web import HEADERS, PREFIX, Changer, Site, admin_context, record, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SIGN_IN_RATE = "10/minute"  # attempts per client address, across instances when Redis is configured


@router.get("/signin")
async def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "signin.html", None)


@router.post("/signin")
async def sign_in(request: Request, site: Site, name: Annotated[str, Form(max_length=200)] = "",
                  secret: Annotated[str, Form(max_length=1000)] = "") -> Response:
    ip = client_ip(request)
    if not await site.tools.limits.hit(SIGN_IN_RATE, "console-signin", ip):
        await site.security.record(admin_context(request), "console.signin", ok=False, actor=f"console:{name}",
                                   details={"reason": "rate limited"})
        return render(request, "signin.html", None, http_status=429, error="Too many attempts; wait a minute.")
    verdict = await site.authority.sign_in(name, secret, ip)
    if verdict.admin is None:
        await site.security.record(admin_context(request), "console.signin", ok=False, actor=f"console:{name}",
                                   details={"reason": verdict.reason})
        return render(request, "signin.html", None, http_status=401, error="Sign-in failed.", name=name)
    cookie, session = site.sessions.issue(verdict.admin)
    await record(request, session, "signin")
    answer = RedirectResponse(f"{PREFIX}/approvals", status_code=303, headers=HEADERS)
    answer.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, path=PREFIX, httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")
    return answer


@router.post("/signout")
async def sign_out(request: Request, session: Changer) -> Response:
    await record(request, session, "signout")
    answer = RedirectResponse(f"{PREFIX}/signin", status_code=303, headers=HEADERS)
    answer.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return answer
