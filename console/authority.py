"""Who may sign in to the console.

Admin authority never comes from app data (DESIGN.md rule 10): no Parse user, role or agent signs in here.
Until console admin accounts exist (issue 13: ``ballast admins create``), the one admin is the operator
holding the master key, typed into the sign-in form from an address the master key is allowed from; the
browser then holds only the signed session cookie, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings
from backend.keys import ip_allowed, same

OPERATOR = "master"


@dataclass(frozen=True)
class Verdict:
    admin: str | None  # who signed in, or None
    reason: str  # why not (for the security record; the page says only that sign-in failed)


class Authority:
    """Checks sign-in credentials against the admin model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def sign_in(self, name: str, secret: str, ip: str) -> Verdict:
        if name != OPERATOR:
            return Verdict(None, "unknown admin")
        if not same(secret, self.settings.master_key):
            return Verdict(None, "wrong key")
        if not ip_allowed(ip, self.settings.master_key_ips):
            return Verdict(None, "address not allowed for the master key")
        return Verdict(OPERATOR, "")
