"""Console sessions: a signed, expiring cookie naming the admin, and the CSRF token bound to it.

The cookie is ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` when served over TLS); it carries the admin's
name and a random session id, signed with a key derived from the master key (so every instance accepts it,
and changing the master key ends every console session). No key ever reaches the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "ballast_console"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class AdminSession:
    """A signed-in console admin."""

    admin: str
    sid: str
    csrf: str


class Sessions:
    """Issue and check console session cookies and their CSRF tokens."""

    def __init__(self, master_key: str) -> None:
        self._key = hmac.new(master_key.encode(), b"ballast console session", hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(self._key, salt="ballast-console")

    def issue(self, admin: str) -> tuple[str, AdminSession]:
        """(cookie value, session) for a freshly signed-in admin."""
        sid = secrets.token_urlsafe(24)
        return self._signer.dumps({"admin": admin, "sid": sid}), self._session(admin, sid)

    def check(self, cookie: str | None) -> AdminSession | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("admin"), str) or not isinstance(data.get("sid"), str):
            return None
        return self._session(data["admin"], data["sid"])

    def csrf_ok(self, session: AdminSession, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())

    def _session(self, admin: str, sid: str) -> AdminSession:
        csrf = hmac.new(self._key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()
        return AdminSession(admin, sid, csrf)
