"""Console admins: the only people, besides the master key, who may administer the agent gateway.

Admin authority never comes from app data: no user, role (of any name) or agent can grant it.
A console admin is a row of the Ballast-internal ``_Admin`` class, created only by the master
key (admin API) or the CLI (``ballast admins ...``). It signs in with a username and password
(bcrypt, as Parse's users) and gets an opaque session token; only the token's sha256 is stored
(``_AdminSession``), it expires, and disabling the admin or changing its password ends all its
sessions. ``role`` is ``admin`` (may change) or ``viewer`` (may look).

The console's API: ``authenticate(username, password) -> AdminSession``, ``resolve(token) ->
Admin | None``, ``end(token)``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent_tools.stores.classes import ADMIN, ADMIN_SESSION, Records
from backend import wire
from backend.errors import InvalidValue, ObjectNotFound, ParseCode, ParseError
from backend.services.identity.passwords import MAX_PASSWORD_LENGTH, hash_password, verify_password

ADMIN_TOKEN_PREFIX = "bsa_"  # "ballast session, admin": told apart from agent tokens (bal_) at a glance
ROLES = ("admin", "viewer")
SESSION_HOURS = 12
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MIN_PASSWORD = 10
# a hash no password matches, verified for an unknown username so both failures cost the same time
_NOBODY = "$2b$10$" + "C" * 53


class AdminLoginFailed(ParseError):
    code = ParseCode.OBJECT_NOT_FOUND
    default_message = "Invalid username/password."


@dataclass(frozen=True)
class Admin:
    id: str
    username: str
    role: str
    disabled: bool

    @property
    def can_change(self) -> bool:
        return self.role == "admin" and not self.disabled

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "role": self.role, "disabled": self.disabled}


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin: the token is shown once, here."""

    token: str
    admin: Admin
    expires_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {"token": self.token, "admin": self.admin.to_wire(), "expiresAt": wire.format_iso(self.expires_at)}


def hash_admin_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(token: str | None) -> bool:
    return bool(token) and str(token).startswith(ADMIN_TOKEN_PREFIX)


def _admin_from(row: dict[str, Any]) -> Admin:
    return Admin(str(row["objectId"]), str(row.get("username", "")), str(row.get("role") or "viewer"),
                 bool(row.get("disabled")))


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidValue(f"An admin password needs {MIN_PASSWORD} to {MAX_PASSWORD_LENGTH} characters.")


class AdminStore:
    """Create, list, disable console admins and change their passwords; sign them in and out."""

    def __init__(self, records: Records, session_hours: int = SESSION_HOURS) -> None:
        self.records = records
        self.session_hours = session_hours

    async def create(self, username: str, password: str, role: str = "admin") -> Admin:
        if not isinstance(username, str) or not USERNAME.fullmatch(username):
            raise InvalidValue("An admin username is 1 to 64 letters, digits or _ . @ -.")
        if role not in ROLES:
            raise InvalidValue(f"role must be one of {', '.join(ROLES)}.")
        _check_password(password)
        if await self.records.first(ADMIN, {"username": username}):
            raise InvalidValue(f"An admin named {username!r} exists already.")
        row = await self.records.create(ADMIN, {"username": username, "passwordHash": await hash_password(password),
                                                "role": role, "disabled": False})
        return _admin_from(row)

    async def all(self) -> list[Admin]:
        return [_admin_from(row) for row in await self.records.find(ADMIN, order="username", limit=1000)]

    async def find(self, username: str) -> Admin:
        return _admin_from(await self._row(username))

    async def disable(self, username: str) -> Admin:
        """Disabled at once: every session of the admin ends."""
        row = await self._row(username)
        await self.records.update(ADMIN, row["objectId"], {"disabled": True})
        await self._end_all(str(row["objectId"]))
        return await self.find(username)

    async def set_password(self, username: str, password: str) -> Admin:
        """A new password ends every session signed in with the old one."""
        _check_password(password)
        row = await self._row(username)
        await self.records.update(ADMIN, row["objectId"], {"passwordHash": await hash_password(password)})
        await self._end_all(str(row["objectId"]))
        return _admin_from(row)

    async def authenticate(self, username: str, password: str) -> AdminSession:
        """A new session for a known, enabled admin with this password; AdminLoginFailed otherwise."""
        row = await self.records.first(ADMIN, {"username": username}) if isinstance(username, str) else None
        hashed = str(row.get("passwordHash") or "") if row else _NOBODY
        matches = isinstance(password, str) and await verify_password(password[:MAX_PASSWORD_LENGTH], hashed)
        if row is None or not matches or row.get("disabled"):
            raise AdminLoginFailed()
        token = ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = wire.now() + timedelta(hours=self.session_hours)
        await self.records.create(ADMIN_SESSION, {"tokenHash": hash_admin_token(token), "adminId": row["objectId"],
                                                  "expiresAt": {"__type": "Date", "iso": wire.format_iso(expires)},
                                                  "ended": False})
        return AdminSession(token, _admin_from(row), expires)

    async def resolve(self, token: str | None) -> Admin | None:
        """The enabled admin whose live session this token is, or None."""
        session = await self._session(token)
        if session is None:
            return None
        row = await self.records.row(ADMIN, str(session["adminId"]))
        if row is None or row.get("disabled"):
            return None
        return _admin_from(row)

    async def end(self, token: str | None) -> bool:
        """Sign out: the token stops working on every instance (it is read from the database each time)."""
        session = await self._session(token)
        if session is None:
            return False
        await self.records.update(ADMIN_SESSION, session["objectId"], {"ended": True})
        return True

    async def _session(self, token: str | None) -> dict[str, Any] | None:
        if not is_admin_token(token) or len(str(token)) > 128:
            return None
        found = await self.records.first(ADMIN_SESSION, {"tokenHash": hash_admin_token(str(token))})
        if found is None or found.get("ended"):
            return None
        expires = found.get("expiresAt")
        if not isinstance(expires, dict) or wire.parse_iso(str(expires.get("iso"))) <= wire.now():
            return None
        return found

    async def _end_all(self, admin_id: str) -> None:
        for session in await self.records.find(ADMIN_SESSION, {"adminId": admin_id, "ended": False}, limit=1000):
            await self.records.update(ADMIN_SESSION, session["objectId"], {"ended": True})

    async def _row(self, username: str) -> dict[str, Any]:
        found = await self.records.first(ADMIN, {"username": username})
        if found is None:
            raise ObjectNotFound(f"No admin {username!r}.")
        return found
