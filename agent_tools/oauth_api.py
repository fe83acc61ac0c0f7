"""The OAuth endpoints: RFC 8414 authorization-server metadata and the token endpoint (client credentials)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agent_tools.api import Tools
from agent_tools.oauth import TOKEN_PATH, OAuthError

router = APIRouter(tags=["agent oauth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/.well-known/oauth-authorization-server")
async def authorization_server_metadata(tools: Tools) -> JSONResponse:
    return JSONResponse(tools.oauth.metadata())


def _basic(request: Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        user, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote(user), unquote(secret)  # RFC 6749 2.3.1: form-urlencoded before base64


@router.post(TOKEN_PATH)
async def token(request: Request, tools: Tools) -> JSONResponse:
    """Client credentials for an agent: client_id = agent id, client_secret = one of its gateway tokens."""
    try:
        form = await request.form()
        grant = form.get("grant_type")
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported.")
        client_id, secret = _basic(request)
        client_id = client_id or _text(form.get("client_id"))
        secret = secret or _text(form.get("client_secret"))
        issued = await tools.oauth.client_credentials(client_id, secret, _text(form.get("scope")),
                                                      _text(form.get("resource")))
    except OAuthError as error:
        headers = dict(NO_STORE)
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ballast"'
        return JSONResponse(error.to_wire(), status_code=error.status, headers=headers)
    return JSONResponse(issued, headers=NO_STORE)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
