"""The MCP SDK's authorization-server provider over Ballast's own records: clients, codes, refresh tokens.

The SDK's handlers (``mcp.server.auth.handlers``) do the protocol: RFC 8414
metadata, RFC 7591 registration, the authorization endpoint's checks, PKCE
(S256) and redirect-URI checks at the token endpoint, RFC 7009 revocation.
This provider stores what they need in the master-only ``_OAuthGrant`` class
(on both engines, shared by every instance): registered clients, authorization
codes and refresh tokens, the last two by a hash only. A code is used once (its
row is deleted by the exchange; a second exchange finds nothing); a refresh
token rotates (the old row is deleted as the new pair is issued). Tokens are
issued for the agent a human chose on the consent page, and only while that
agent is active.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from agent_tools.stores.classes import GRANT
from agent_tools.stores.oauth_tokens import ACCESS_SECONDS, CONSENT_PATH, access_token_of
from backend.errors import ObjectNotFound

if TYPE_CHECKING:
    from agent_tools.stores.oauth_tokens import TokenParts

CODE_SECONDS = 300
REFRESH_SECONDS = 30 * 24 * 3600
PENDING_SECONDS = 600


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class GrantStore(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """The SDK's provider protocol (its default refuses the identity-assertion grant, which we do not offer)."""

    def __init__(self, tools: TokenParts) -> None:
        self.tools = tools
        self.records = tools.records

    async def _row(self, kind: str, key: str) -> dict[str, Any] | None:
        await self.tools.ready()
        return await self.records.first(GRANT, {"kind": kind, "key": key})

    async def _consume(self, kind: str, key: str) -> dict[str, Any]:
        """Delete the grant and answer it; a second use (a replay, a race) finds nothing: ``invalid_grant``."""
        row = await self._row(kind, key)
        try:
            if row is None:
                raise ObjectNotFound("gone")
            await self.records.delete(GRANT, row["objectId"])
        except ObjectNotFound:
            raise TokenError("invalid_grant", f"This {kind} was already used or revoked.") from None
        return row

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        row = await self._row("client", client_id)
        return OAuthClientInformationFull.model_validate_json(row["dataJson"]) if row else None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self.tools.ready()
        await self.records.create(GRANT, {"kind": "client", "key": client_info.client_id,
                                          "dataJson": client_info.model_dump_json(exclude_none=True)})

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """The consent page, carrying the checked request signed (nothing is stored until a human decides)."""
        pending = {"cid": client.client_id, "redirect": str(params.redirect_uri), "state": params.state,
                   "explicit": params.redirect_uri_provided_explicitly, "challenge": params.code_challenge,
                   "scopes": params.scopes, "resource": params.resource}
        signed = self.tools.oauth.sign(pending, CONSENT_PATH, PENDING_SECONDS)
        return construct_redirect_uri(self.tools.oauth.issuer + CONSENT_PATH, request=signed)

    async def issue_code(self, pending: dict[str, Any], agent_id: str, scopes: list[str],
                         run: dict[str, Any] | None) -> str:
        """After consent: a one-time code for the chosen agent and scopes (and intent run), stored hashed."""
        code = secrets.token_urlsafe(32)
        check = await self.tools.agents.check_id(agent_id)  # its generation now (the grant dies when it moves)
        data = {"scopes": scopes, "challenge": pending["challenge"], "redirect": pending["redirect"],
                "explicit": pending["explicit"], "resource": pending.get("resource"), "run": run,
                "generation": check.agent.generation if check.agent else None}
        await self.records.create(GRANT, {"kind": "code", "key": _digest(code), "clientId": pending["cid"],
                                          "agentId": agent_id, "expiresAt": int(time.time()) + CODE_SECONDS,
                                          "dataJson": orjson.dumps(data).decode()})
        return code

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str
                                      ) -> AuthorizationCode | None:
        row = await self._row("code", _digest(authorization_code))
        if row is None or row.get("clientId") != client.client_id:
            return None
        data = orjson.loads(row["dataJson"])
        return AuthorizationCode(code=authorization_code, scopes=data["scopes"], expires_at=row["expiresAt"],
                                 client_id=row["clientId"], code_challenge=data["challenge"],
                                 redirect_uri=AnyUrl(data["redirect"]),
                                 redirect_uri_provided_explicitly=data["explicit"], resource=data.get("resource"),
                                 subject=row["agentId"])

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        row = await self._consume("code", _digest(authorization_code.code))
        return await self._tokens(row, authorization_code.scopes)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        row = await self._row("refresh", _digest(refresh_token))
        if row is None or row.get("clientId") != client.client_id:
            return None
        data = orjson.loads(row["dataJson"])
        return RefreshToken(token=refresh_token, client_id=row["clientId"], scopes=data["scopes"],
                            expires_at=row["expiresAt"], resource=data.get("resource"), subject=row["agentId"])

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        if refresh_token.expires_at is not None and refresh_token.expires_at < time.time():
            raise TokenError("invalid_grant", "This refresh token has expired.")
        row = await self._consume("refresh", _digest(refresh_token.token))
        return await self._tokens(row, scopes or refresh_token.scopes)

    async def _tokens(self, row: dict[str, Any], scopes: list[str]) -> OAuthToken:
        """An access token and a fresh refresh token for the row's agent, if it is still active."""
        agent_id = str(row["agentId"])
        data = orjson.loads(row["dataJson"])
        # the grant carries the agent's generation: revoked, rotated or suspended since, it died with it
        check = await self.tools.agents.check_id(agent_id, generation=data.get("generation"))
        if check.problem or check.agent is None or check.agent.status != "active":
            raise TokenError("invalid_grant", "The agent these tokens were granted to is no longer active, or its "
                                              "tokens were revoked since; sign in again.")
        generation = check.agent.generation
        run = data.get("run") or {}
        access = self.tools.oauth.issue(agent_id, set(scopes), run_id=run.get("runId"), intent=run.get("intent"),
                                        params=run.get("params"), generation=generation)
        refresh = secrets.token_urlsafe(32)
        await self.records.create(GRANT, {
            "kind": "refresh", "key": _digest(refresh), "clientId": row["clientId"], "agentId": agent_id,
            "expiresAt": int(time.time()) + REFRESH_SECONDS,
            "dataJson": orjson.dumps({"scopes": scopes, "resource": data.get("resource"), "run": data.get("run"),
                                      "generation": generation}).decode()})
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=ACCESS_SECONDS,
                          scope=" ".join(sorted(scopes)), refresh_token=refresh)

    async def load_access_token(self, token: str) -> AccessToken | None:
        claims = self.tools.oauth.verify(token)
        return access_token_of(token, claims) if claims else None

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        if isinstance(token, RefreshToken):  # access tokens are short-lived JWTs: they end with their agent's
            row = await self._row("refresh", _digest(token.token))
            if row is not None:
                await self.records.delete(GRANT, row["objectId"])

    async def forget_agent(self, agent_id: str) -> int:
        """Every code and refresh token of an agent (revoked, rotated or deleted): they die with it."""
        await self.tools.ready()
        rows = await self.records.find(GRANT, {"agentId": agent_id}, limit=1000)
        for row in rows:
            await self.records.delete(GRANT, row["objectId"])
        return len(rows)

