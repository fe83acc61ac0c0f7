"""Ballast as an OAuth 2.1 authorization server for its agents, and the verifier its MCP resource uses.

Headless agents get access tokens with the client credentials grant: ``client_id``
is the agent id, ``client_secret`` one of its gateway tokens. Interactive clients
register (RFC 7591) and use the authorization code with PKCE, a human choosing
the agent on the consent page (agent_tools/stores/oauth_grants.py, consent.py); their
refresh tokens rotate. An agent's gateway token is also accepted as a bearer on
``/mcp`` as it is (the simplest set-up). Access tokens are JWTs
(PyJWT, HS256 under a key derived from the master key with HKDF) carrying
``aud`` = the MCP resource URL (RFC 8707 ``resource``), ``sub`` = the agent,
``scope``, ``exp``, and for a run token the run id, intent and its parameters.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_metadata
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthMetadata
from pydantic import AnyHttpUrl

from agent_tools.stores.agents import TOKEN_PREFIX
from agent_tools.stores.parts import Parts

READ_SCOPE = "tools:read"
WRITE_SCOPE = "tools:write"
SCOPES = (READ_SCOPE, WRITE_SCOPE)
ALGORITHM = "HS256"
ACCESS_SECONDS = 900
MCP_PATH = "/mcp"
TOKEN_PATH = "/oauth/token"
AUTHORIZE_PATH = "/oauth/authorize"
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"
CONSENT_PATH = "/oauth/consent"
REGISTRATION = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=list(SCOPES))


def scope_for(kind: str) -> str:
    """The scope a tool of this kind needs."""
    return WRITE_SCOPE if kind == "write" else READ_SCOPE


@dataclass(frozen=True)
class Claims:
    """A verified access token: who, what it may do, and (a run token) for which run and intent."""

    agent_id: str
    scopes: frozenset[str]
    audience: str
    expires_at: int
    run_id: str | None = None
    intent: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    gateway_token: str | None = field(default=None, repr=False)  # the bearer was the agent's gateway token
    generation: int | None = None  # the agent's generation at minting: a revocation since ends the token
    token_id: str | None = None  # the gateway token it was exchanged for (an access token; not a run token)


class OAuthError(Exception):
    """An RFC 6749 error answer: ``error`` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def to_wire(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def origin_of(public_url: str) -> str:
    """``scheme://host[:port]`` of the server's public URL: the issuer, and the base of the resource URL."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}"


class TokenParts(Parts, Protocol):
    """The parts and the token authority: what the OAuth grants and run tokens use."""

    oauth: TokenAuthority


class TokenAuthority:
    """Issues and verifies agent access tokens for one server."""

    def __init__(self, tools: Parts, public_url: str, master_key: str | None) -> None:
        self.tools = tools
        self.issuer = origin_of(public_url)
        self.resource = self.issuer + MCP_PATH
        # a key of its own: a leaked access-token key must not be the master key (and vice versa)
        seed = master_key.encode() if master_key else secrets.token_bytes(32)
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=b"ballast agent access tokens").derive(seed)

    def metadata(self) -> OAuthMetadata:
        """RFC 8414 authorization-server metadata: the SDK's, at our paths, plus client credentials."""
        metadata = build_metadata(AnyHttpUrl(self.issuer), None, REGISTRATION, RevocationOptions(enabled=True))
        return metadata.model_copy(update={
            "authorization_endpoint": AnyHttpUrl(self.issuer + AUTHORIZE_PATH),
            "token_endpoint": AnyHttpUrl(self.issuer + TOKEN_PATH),
            "registration_endpoint": AnyHttpUrl(self.issuer + REGISTER_PATH),
            "revocation_endpoint": AnyHttpUrl(self.issuer + REVOKE_PATH),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
            "scopes_supported": list(SCOPES)})

    def sign(self, payload: dict[str, Any], purpose: str, seconds: int) -> str:
        """A short-lived signed envelope for one of our own pages (``purpose``: its path), not a token."""
        now = int(time.time())
        return jwt.encode({"data": payload, "aud": self.issuer + purpose, "iat": now, "exp": now + seconds},
                          self._key, algorithm=ALGORITHM)

    def unsign(self, signed: str, purpose: str) -> dict[str, Any] | None:
        try:
            claims = jwt.decode(signed, self._key, algorithms=[ALGORITHM], audience=self.issuer + purpose,
                                options={"require": ["exp", "aud"]})
        except jwt.PyJWTError:
            return None
        data = claims.get("data")
        return data if isinstance(data, dict) else None

    async def client_credentials(self, client_id: str | None, secret: str | None, scope: str | None,
                                 resource: str | None) -> dict[str, Any]:
        """The token endpoint's client credentials grant: an access token for an active agent."""
        if not client_id or not secret:
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        await self.tools.ready()
        check = await self.tools.agents.check(secret)
        if check.problem or check.agent is None or not hmac.compare_digest(check.agent.id, client_id):
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        if check.agent.status != "active":
            raise OAuthError("unauthorized_client", f"Agent {check.agent.name} is {check.agent.status}.")
        if resource is not None and resource.rstrip("/") != self.resource:
            raise OAuthError("invalid_target", f"This server issues tokens for {self.resource} only.")
        wanted = set((scope or " ".join(SCOPES)).split())
        if not wanted or not wanted <= set(SCOPES):
            raise OAuthError("invalid_scope", f"Known scopes: {' '.join(SCOPES)}.")
        token = self.issue(check.agent.id, wanted, generation=check.agent.generation, token_id=check.token_id)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_SECONDS,
                "scope": " ".join(sorted(wanted))}

    def issue(self, agent_id: str, scopes: set[str], seconds: int = ACCESS_SECONDS, run_id: str | None = None,
              intent: str | None = None, params: dict[str, Any] | None = None, *, generation: int,
              token_id: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": agent_id, "aud": self.resource,
                                  "scope": " ".join(sorted(scopes)), "iat": now, "exp": now + seconds,
                                  "jti": secrets.token_hex(8), "gen": generation, "tid": token_id}
        if run_id:
            claims |= {"run": run_id, "intent": intent, "params": params or {}}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, audience: str | None = None) -> Claims | None:
        """The token's claims if it is ours, unexpired and for ``audience`` (default: our MCP resource)."""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=audience or self.resource,
                                issuer=self.issuer, options={"require": ["exp", "sub", "aud", "iss"]})
        except jwt.PyJWTError:
            return None
        params, generation, token_id = claims.get("params"), claims.get("gen"), claims.get("tid")
        return Claims(str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()), str(claims["aud"]),
                      int(claims["exp"]), claims.get("run"), claims.get("intent"),
                      params if isinstance(params, dict) else {},
                      generation=generation if isinstance(generation, int) else None,
                      token_id=token_id if isinstance(token_id, str) else None)


class AgentTokenVerifier:
    """The MCP SDK's TokenVerifier: our access-token JWTs, and an agent's gateway token as it is."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority

    async def claims(self, token: str) -> Claims | None:
        """Who a bearer on ``/mcp`` is: a verified access token, or a valid gateway token (every scope)."""
        claims = self.authority.verify(token)
        if claims is not None or not token.startswith(TOKEN_PREFIX):
            return claims
        check = await self.authority.tools.agents.check(token)
        if check.problem or check.agent is None:
            return None
        return Claims(check.agent.id, frozenset(SCOPES), self.authority.resource, int(time.time()) + ACCESS_SECONDS,
                      gateway_token=token)

    async def verify_token(self, token: str) -> AccessToken | None:
        claims = await self.claims(token)
        return access_token_of(token, claims) if claims else None


def access_token_of(token: str, claims: Claims) -> AccessToken:
    """What the SDK's bearer middleware and token handlers know of one of our tokens."""
    return AccessToken(token=token, client_id=claims.agent_id, scopes=sorted(claims.scopes),
                       expires_at=claims.expires_at, resource=claims.audience, subject=claims.agent_id)
