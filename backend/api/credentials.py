"""Every request header that carries a credential, named once.

The auth code of every face (REST auth, the admin API, the agent gateway, /metrics, the console) reads its
credentials under these names, and whatever hands a request's headers to app code (a cloud function's
``req.headers``) drops every one of them: a new credential header added here cannot be forgotten there.
"""

from __future__ import annotations

MASTER_KEY = "x-parse-master-key"  # also the read-only master key
SESSION_TOKEN = "x-parse-session-token"
CLIENT_KEYS = ("x-parse-javascript-key", "x-parse-rest-api-key", "x-parse-client-key", "x-parse-windows-key")
ADMIN_SESSION = "x-ballast-admin-session"  # a console admin's session on the admin API
DELEGATION = "x-ballast-delegation"  # a user's grant to an agent
AUTHORIZATION = "authorization"  # bearer: agent gateway, OAuth and run tokens, admin sessions, the metrics token
COOKIE = "cookie"  # the console session

NAMED = frozenset({MASTER_KEY, SESSION_TOKEN, *CLIENT_KEYS, ADMIN_SESSION, DELEGATION, AUTHORIZATION, COOKIE})
# Beyond the names: Ballast's own headers are the agent/admin faces' business, and any X-Parse-...-Key is a key
# (Parse's webhook key, a client key Parse may add), so both families are treated as credentials too.
_OWN_PREFIX = "x-ballast-"


def is_credential(name: str) -> bool:
    """Whether a (case-insensitive) header name may carry a credential."""
    lowered = name.lower()
    return (lowered in NAMED or lowered.startswith(_OWN_PREFIX)
            or (lowered.startswith("x-parse-") and lowered.endswith("-key")))


def without_credentials(headers: dict[str, str]) -> dict[str, str]:
    """The headers app code may see: every credential dropped."""
    return {name: value for name, value in headers.items() if not is_credential(name)}
