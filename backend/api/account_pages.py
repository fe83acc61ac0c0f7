"""The pages behind the links in verification and reset mails (plain server-rendered HTML).

Parse Server serves them at ``/apps/:appId/verify_email`` and ``/apps/:appId/choose_password``;
the reset form posts to ``/apps/:appId/request_password_reset``. No app keys are needed:
the token in the link is the credential.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from backend.context import ANONYMOUS, RequestContext
from backend.deps import Svc
from backend.errors import ParseError

router = APIRouter(tags=["account pages"], include_in_schema=False)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            "<meta name='viewport' content='width=device-width'></head>"
            f"<body style='font-family:sans-serif;max-width:32em;margin:3em auto'><h1>{escape(title)}</h1>"
            f"{body}</body></html>")
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                          "Referrer-Policy": "no-referrer"})


def _ctx(request: Request) -> RequestContext:
    return RequestContext(ANONYMOUS, ip=request.client.host if request.client else None)


def _app_known(svc: Svc, app_id: str) -> bool:
    return app_id == svc.settings.application_id


@router.get("/apps/{app_id}/verify_email")
async def verify_email(app_id: str, request: Request, svc: Svc) -> HTMLResponse:
    params = request.query_params
    if not _app_known(svc, app_id):
        return _page("Invalid link", "<p>This link is not valid.</p>", 404)
    try:
        await svc.identity.accounts.verify_email(_ctx(request), params.get("username", ""), params.get("token", ""))
    except ParseError:
        return _page("Invalid link", "<p>This link is invalid or has expired.</p>", 400)
    return _page("Email verified", f"<p>Your email for {escape(svc.settings.app_name)} is verified.</p>")


@router.get("/apps/{app_id}/choose_password")
async def choose_password(app_id: str, request: Request, svc: Svc) -> HTMLResponse:
    params = request.query_params
    if not _app_known(svc, app_id):
        return _page("Invalid link", "<p>This link is not valid.</p>", 404)
    form = (
        f"<form method='post' action='request_password_reset'>"
        f"<input type='hidden' name='username' value='{escape(params.get('username', ''), quote=True)}'>"
        f"<input type='hidden' name='token' value='{escape(params.get('token', ''), quote=True)}'>"
        "<label>New password <input type='password' name='new_password' autocomplete='new-password' required>"
        "</label> <button type='submit'>Change password</button></form>"
    )
    return _page("Choose a new password", form)


@router.post("/apps/{app_id}/request_password_reset")
async def reset_password(app_id: str, request: Request, svc: Svc) -> HTMLResponse:
    if not _app_known(svc, app_id):
        return _page("Invalid link", "<p>This link is not valid.</p>", 404)
    form = await request.form()
    values = {key: str(form.get(key) or "") for key in ("username", "token", "new_password")}
    try:
        await svc.identity.accounts.reset_password(_ctx(request), values["username"], values["token"],
                                                   values["new_password"])
    except ParseError as error:
        return _page("Password not changed", f"<p>{escape(error.message)}</p>", 400)
    return _page("Password changed", "<p>Your password has been changed. You can log in with it now.</p>")
