"""The OAuth endpoints, the MCP SDK's handlers at Ballast's paths, plus client credentials for headless agents.

``/.well-known/oauth-authorization-server`` (RFC 8414), ``/oauth/register``
(RFC 7591), ``/oauth/authorize`` (code + PKCE, then the consent page),
``/oauth/token`` (authorization_code and refresh_token by the SDK's handler;
client_credentials by ours: client_id = agent id, client_secret = one of its
gateway tokens), ``/oauth/revoke`` (RFC 7009) and ``/oauth/consent``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import unquote

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import ClientAuthenticator
from mcp.server.auth.routes import cors_middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_tools.faces.consent import ConsentPage
from agent_tools.stores.oauth_tokens import (
    AUTHORIZE_PATH,
    CONSENT_PATH,
    REGISTER_PATH,
    REGISTRATION,
    REVOKE_PATH,
    TOKEN_PATH,
    OAuthError,
)

if TYPE_CHECKING:
    from agent_tools.wiring import AgentTools

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_routes(tools: AgentTools) -> list[Route]:
    """Every OAuth route, wired to the agent tools' grant store and token authority."""
    grants = tools.grants
    authenticator = ClientAuthenticator(grants)
    sdk_token = TokenHandler(grants, authenticator)
    consent = ConsentPage(tools)

    async def token(request: Request) -> Response:
        form = await request.form()  # kept on the request: the SDK's handler reads the same form
        if form.get("grant_type") == "client_credentials":
            return await client_credentials(request, tools)
        answer: Response = await sdk_token.handle(request)
        return answer

    return [
        Route("/.well-known/oauth-authorization-server",
              cors_middleware(MetadataHandler(tools.oauth.metadata()).handle, ["GET", "OPTIONS"]),
              methods=["GET", "OPTIONS"]),
        Route(AUTHORIZE_PATH, AuthorizationHandler(grants).handle, methods=["GET", "POST"]),
        Route(TOKEN_PATH, cors_middleware(token, ["POST", "OPTIONS"]), methods=["POST", "OPTIONS"]),
        Route(REGISTER_PATH, cors_middleware(RegistrationHandler(grants, REGISTRATION).handle, ["POST", "OPTIONS"]),
              methods=["POST", "OPTIONS"]),
        Route(REVOKE_PATH, cors_middleware(RevocationHandler(grants, authenticator).handle, ["POST", "OPTIONS"]),
              methods=["POST", "OPTIONS"]),
        Route(CONSENT_PATH, consent.show, methods=["GET"]),
        Route(CONSENT_PATH, consent.decide, methods=["POST"]),
    ]


def _basic(request: Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        user, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote(user), unquote(secret)  # RFC 6749 2.3.1: form-urlencoded before base64


async def client_credentials(request: Request, tools: AgentTools) -> JSONResponse:
    """Client credentials for an agent: client_id = agent id, client_secret = one of its gateway tokens."""
    try:
        form = await request.form()
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
