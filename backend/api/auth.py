"""Headers -> RequestContext: application id, client keys, master key, session token.

One small function per concern, instead of parse-server's 200-line
middleware. Every key compare is constant-time; the master key counts only
from an allowed IP.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from backend import jsontext
from backend.api.access_log import note_principal
from backend.config import Settings
from backend.context import ANONYMOUS, MASTER, READ_ONLY_MASTER, Principal, RequestContext
from backend.errors import InvalidJSON, InvalidSessionToken, Unauthorized
from backend.keys import ip_allowed, same
from backend.services.identity.sessions import SessionResolver

CLIENT_KEY_HEADERS = ("x-parse-javascript-key", "x-parse-rest-api-key", "x-parse-client-key",
                      "x-parse-windows-key")


def check_application(conn: HTTPConnection, settings: Settings) -> None:
    if not same(conn.headers.get("x-parse-application-id"), settings.application_id):
        raise Unauthorized()


def master_principal(conn: HTTPConnection, settings: Settings) -> Principal | None:
    given = conn.headers.get("x-parse-master-key")
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


def check_client_key(conn: HTTPConnection, settings: Settings) -> None:
    configured = settings.client_keys
    if not configured:
        return
    given = [conn.headers.get(name) for name in CLIENT_KEY_HEADERS]
    if not any(same(key, expected) for key in given for expected in configured):
        raise Unauthorized()


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "127.0.0.1"


def cloud_context(conn: HTTPConnection) -> dict[str, object]:
    raw = conn.headers.get("x-parse-cloud-context")
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
    check_application(conn, settings)
    principal = master_principal(conn, settings)
    if principal is None:
        check_client_key(conn, settings)
        token = conn.headers.get("x-parse-session-token")
        principal = await sessions.principal_for(token) if token else ANONYMOUS
        if principal is None:
            raise InvalidSessionToken("Invalid session token")
    note_principal(conn.scope, principal.kind.value)
    return RequestContext(
        principal,
        installation_id=conn.headers.get("x-parse-installation-id"),
        client_version=conn.headers.get("x-parse-client-version"),
        ip=client_ip(conn),
        request_id=conn.headers.get("x-parse-request-id"),
        cloud_context=cloud_context(conn),
    )
