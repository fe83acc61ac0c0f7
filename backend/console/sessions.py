"""Console sessions: the cookie holds a console admin's session token (agent_tools/stores/admins.py), nothing else.

The token is opaque, stored server-side only as its hash, expires, and ends on sign-out, when the admin is
disabled or given a new password, on every instance (it is resolved from the database on each request). The
cookie is ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` over TLS). The CSRF token every change carries
is an HMAC of the session token under a key derived from the master key, so every instance agrees on it
and it is worthless without the cookie it belongs to. No key ever reaches the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from agent_tools.faces.admin_auth import AdminCaller
from agent_tools.stores.admins import Admin

COOKIE = "ballast_console"


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in console admin, as a page sees it."""

    admin: Admin
    token: str
    csrf: str
    ip: str

    @property
    def name(self) -> str:
        return self.admin.username

    @property
    def caller(self) -> AdminCaller:
        """The admin as the admin API's checks and records name it (``admin:<username>``)."""
        return AdminCaller(f"admin:{self.admin.username}", self.admin.can_change, self.ip, self.admin, "console")


class Csrf:
    """CSRF tokens bound to a session token."""

    def __init__(self, master_key: str | None) -> None:
        # without a master key (never under `ballast serve`, which generates one) the key is this process's own
        secret = master_key.encode() if master_key else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"ballast console csrf", hashlib.sha256).digest()

    def token_for(self, session_token: str) -> str:
        return hmac.new(self._key, session_token.encode(), hashlib.sha256).hexdigest()

    def matches(self, session: ConsoleSession, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())
