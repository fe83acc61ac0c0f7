"""Headers -> RequestContext: application id, client keys, master key, session token.

One small function per concern, instead of parse-server's 200-line
middleware. Every key compare is constant-time; the master key counts only
from an allowed IP.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import HTTPConnection

from backend import jsontext
from backend.api import credentials
from backend.api.access_log import note_principal
from backend.config import Settings
from backend.context import ANONYMOUS, MASTER, READ_ONLY_MASTER, Principal, RequestContext
from backend.errors import InvalidJSON, InvalidSessionToken, Unauthorized
from backend.keys import ip_allowed, same
from backend.services.identity.sessions import SessionResolver

CLIENT_KEY_HEADERS = tuple(name.encode() for name in credentials.CLIENT_KEYS)
MASTER_KEY_HEADER = credentials.MASTER_KEY.encode()
SESSION_TOKEN_HEADER = credentials.SESSION_TOKEN.encode()


Headers = dict[bytes, bytes]  # lower-case name -> the first value sent, as Starlette's Headers.get reads it


def first_values(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    """A request's headers (the ASGI scope's list), read once: each lookup by ``conn.headers`` scans (and
    lower-cases) all of them. Every layer that names the caller (auth, the idempotency replay key) reads them
    here, so a repeated header means the same value to each."""
    values: Headers = {}
    for name, value in raw:
        values.setdefault(name, value)
    return values


def _text(headers: Headers, name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def check_application(headers: Headers, settings: Settings) -> None:
    if not same(_text(headers, b"x-parse-application-id"), settings.application_id):
        raise Unauthorized()


def master_principal(conn: HTTPConnection, settings: Settings, headers: Headers | None = None) -> Principal | None:
    given = _text(headers if headers is not None else first_values(conn.scope["headers"]), MASTER_KEY_HEADER)
    if not given:
        return None
    if same(given, settings.master_key):
        principal = MASTER
    elif same(given, settings.read_only_master_key):
        principal = READ_ONLY_MASTER
    else:
        raise Unauthorized()
    if not ip_allowed(client_ip(conn), settings.master_key_ips):
        raise Unauthorized("unauthorized: master key is not allowed from this IP address")
    return principal


def check_client_key(headers: Headers, settings: Settings) -> None:
    configured = settings.client_keys
    if not configured:
        return
    given = [_text(headers, name) for name in CLIENT_KEY_HEADERS]
    if not any(same(key, expected) for key in given for expected in configured):
        raise Unauthorized()


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "127.0.0.1"


def cloud_context(headers: Headers) -> dict[str, object]:
    raw = _text(headers, b"x-parse-cloud-context")
    if not raw:
        return {}
    try:
        value = jsontext.parse(raw)
    except jsontext.JSONDecodeError as error:
        raise InvalidJSON("X-Parse-Cloud-Context must be a JSON object.") from error
    if not isinstance(value, dict):
        raise InvalidJSON("X-Parse-Cloud-Context must be a JSON object.")
    return value


async def resolve_context(conn: HTTPConnection, settings: Settings, sessions: SessionResolver) -> RequestContext:
    """Who this request acts as; raises Unauthorized or InvalidSessionToken."""
    headers = first_values(conn.scope["headers"])
    check_application(headers, settings)
    principal = master_principal(conn, settings, headers)
    if principal is None:
        check_client_key(headers, settings)
        token = _text(headers, SESSION_TOKEN_HEADER)
        principal = await sessions.principal_for(token) if token else ANONYMOUS
        if principal is None:
            raise InvalidSessionToken("Invalid session token")
    note_principal(conn.scope, principal.kind.value)
    return RequestContext(
        principal,
        installation_id=_text(headers, b"x-parse-installation-id"),
        client_version=_text(headers, b"x-parse-client-version"),
        ip=client_ip(conn),
        request_id=_text(headers, b"x-parse-request-id"),
        cloud_context=cloud_context(headers),
    )
