"""authData: social logins and anonymous users, as adapters behind one protocol.

An adapter checks that a client's ``authData[provider]`` proves who it says
(an ID token signed by the provider, an access token the provider accepts)
and answers the provider's user id. Built in: ``anonymous``; generic OpenID
Connect (issuer, JWKS, audience, expiry, checked with PyJWT); Google and
Apple as OIDC instances; GitHub and Facebook as small token checks. An app
adds its own with ``AuthProviders.register``. Only ``{"id": ...}`` is kept
on the user: tokens are never stored.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt

from backend.errors import ObjectNotFound, ParseCode, ParseError

MAX_ID_LENGTH = 256
MAX_TOKEN_LENGTH = 16_384
HTTP_TIMEOUT = 5.0


class UnsupportedService(ParseError):
    code = ParseCode.UNSUPPORTED_SERVICE
    default_message = "This authentication method is unsupported."


class InvalidAuthData(ObjectNotFound):
    """Parse answers refused authData with 101 (OBJECT_NOT_FOUND), naming the provider."""


class AuthAdapter(Protocol):
    async def verify(self, data: Mapping[str, Any]) -> str:
        """The provider's user id proven by ``data``; raise InvalidAuthData otherwise."""


def _text(data: Mapping[str, Any], key: str, provider: str, limit: int = MAX_TOKEN_LENGTH) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidAuthData(f"{provider} auth is invalid for this user: {key} is missing or malformed.")
    return value


class AnonymousAdapter:
    """Parse's anonymous users: a client-made id, no proof."""

    async def verify(self, data: Mapping[str, Any]) -> str:
        return _text(data, "id", "anonymous", MAX_ID_LENGTH)


@dataclass
class OidcAdapter:
    """An OpenID Connect ID token: RS/ES signature by a key of the issuer's JWKS, iss, aud, exp, sub == id."""

    name: str
    issuer: str | tuple[str, ...]
    jwks_uri: str
    audience: str | list[str] | None
    token_key: str = "id_token"
    algorithms: tuple[str, ...] = ("RS256", "RS384", "RS512", "ES256", "ES384")
    _jwks: jwt.PyJWKClient | None = field(default=None, init=False, repr=False)

    async def verify(self, data: Mapping[str, Any]) -> str:
        user_id = _text(data, "id", self.name, MAX_ID_LENGTH)
        token = data.get(self.token_key) or data.get("id_token") or data.get("token")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user: id token is missing.")
        claims = await asyncio.to_thread(self._decode, token)
        if claims.get("sub") != user_id:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user: the token is not for this id.")
        return user_id

    def _decode(self, token: str) -> dict[str, Any]:
        if self.audience is None:
            raise InvalidAuthData(f"{self.name} auth is not configured: a client id (audience) is required.")
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self.jwks_uri, cache_keys=True, lifespan=3600, timeout=int(HTTP_TIMEOUT))
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            issuers = [self.issuer] if isinstance(self.issuer, str) else list(self.issuer)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=list(self.algorithms), audience=self.audience, issuer=issuers,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user: id token expired.") from error
        except jwt.InvalidIssuerError as error:
            raise InvalidAuthData(f"{self.name} auth is invalid: id token not issued by the expected provider.") \
                from error
        except jwt.InvalidAudienceError as error:
            raise InvalidAuthData(f"{self.name} auth is invalid: id token not issued for this app.") from error
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user: the id token cannot be verified.") \
                from error
        return claims


def _get_json(url: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 (configured https URL)
        return json.loads(response.read(1_000_000))


@dataclass
class TokenApiAdapter:
    """An access token the provider's API accepts, answering the same user id (GitHub, Facebook)."""

    name: str
    url: str  # '{token}' is replaced (query-string providers); else sent as a bearer token
    id_key: str = "id"

    async def verify(self, data: Mapping[str, Any]) -> str:
        user_id = _text(data, "id", self.name, MAX_ID_LENGTH)
        token = _text(data, "access_token", self.name)
        try:
            found = await asyncio.to_thread(self._fetch, token)
        except (OSError, ValueError) as error:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user.") from error
        if not isinstance(found, dict) or str(found.get(self.id_key)) != user_id:
            raise InvalidAuthData(f"{self.name} auth is invalid for this user.")
        return user_id

    def _fetch(self, token: str) -> Any:
        if "{token}" in self.url:
            return _get_json(self.url.replace("{token}", urllib.parse.quote(token)), {})
        return _get_json(self.url, {"Authorization": f"Bearer {token}"})


GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def adapter_from_config(name: str, options: Mapping[str, Any]) -> AuthAdapter:
    """Settings ``auth`` entry -> adapter; Parse's option names (clientId, appIds) are accepted."""
    audience = options.get("clientId") or options.get("client_id") or options.get("audience") or options.get(
        "appIds")
    if name == "google" or options.get("type") == "google":
        return OidcAdapter(name, options.get("issuer") or GOOGLE_ISSUERS,
                           options.get("jwksUri", "https://www.googleapis.com/oauth2/v3/certs"), audience)
    if name == "apple" or options.get("type") == "apple":
        return OidcAdapter(name, options.get("issuer", "https://appleid.apple.com"),
                           options.get("jwksUri", "https://appleid.apple.com/auth/keys"), audience, "token")
    if name == "github" or options.get("type") == "github":
        return TokenApiAdapter(name, options.get("apiUrl", "https://api.github.com/user"))
    if name == "facebook" or options.get("type") == "facebook":
        base = options.get("apiUrl", "https://graph.facebook.com/me?fields=id&access_token={token}")
        return TokenApiAdapter(name, base)
    if "issuer" in options:
        jwks = options.get("jwksUri") or options.get("jwks_uri")
        if not isinstance(jwks, str):
            raise ValueError(f"auth.{name}: an OpenID Connect provider needs jwksUri")
        return OidcAdapter(name, options["issuer"], jwks, audience)
    raise ValueError(f"auth.{name}: unknown provider type (set issuer and jwksUri for OpenID Connect)")


class AuthProviders:
    """The configured adapters by provider name; ``anonymous`` is on unless disabled."""

    def __init__(self, config: Mapping[str, Mapping[str, Any]], enable_anonymous: bool = True) -> None:
        self.adapters: dict[str, AuthAdapter] = {}
        if enable_anonymous:
            self.adapters["anonymous"] = AnonymousAdapter()
        for name, options in config.items():
            if name == "anonymous":
                if options.get("enabled") is False:
                    self.adapters.pop("anonymous", None)
                continue
            self.adapters[name] = adapter_from_config(name, options)

    def register(self, name: str, adapter: AuthAdapter) -> None:
        """Add an app's own provider."""
        self.adapters[name] = adapter

    async def verify(self, auth_data: object) -> dict[str, dict[str, str] | None]:
        """Every entry checked: provider -> {"id": ...} to store, or None to unlink."""
        if not isinstance(auth_data, dict) or not auth_data:
            raise InvalidAuthData("authData must be a non-empty object.")
        verified: dict[str, dict[str, str] | None] = {}
        for provider, data in auth_data.items():
            if data is None:
                verified[provider] = None
                continue
            adapter = self.adapters.get(provider) if isinstance(provider, str) else None
            if adapter is None:
                raise UnsupportedService()
            if not isinstance(data, dict):
                raise InvalidAuthData(f"{provider} auth is invalid for this user: authData must be an object.")
            verified[provider] = {"id": await adapter.verify(data)}
        return verified
