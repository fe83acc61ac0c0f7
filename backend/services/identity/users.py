"""Users (``_User``): sign-up, log-in (password or authData), the write rules, lockout.

The ``_User`` guard runs on EVERY write of a user, whichever face makes it (``/users``,
``/classes/_User``, cloud code, agents): it hashes ``password`` into the hidden
``_hashed_password`` column (bcrypt, Parse-compatible), applies the password policy,
gives new users their default ACL, checks authData, and revokes the user's other
sessions when the password changes. Usernames and emails are unique case-insensitively
by index, so concurrent sign-ups cannot both win (202/203).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from backend import querytree as q
from backend import wire
from backend.config import Settings
from backend.context import RequestContext
from backend.errors import DuplicateValue, ObjectNotFound, ParseCode, ParseError
from backend.services.data.objects import ObjectService
from backend.services.data.render import render
from backend.services.data.security_log import SecurityLog
from backend.services.identity.authdata import AuthProviders
from backend.services.identity.passwords import MAX_PASSWORD_LENGTH, PasswordPolicy, PreparedPassword, hash_password
from backend.services.identity.sessions import SessionStore
from backend.services.shared.units import Unit
from backend.storage.protocols import ClassSchema, Row

USER_CLASS = "_User"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_USERNAME = 256
MAX_EMAIL = 320
DUMMY_PASSWORD = "ballast-no-such-user"  # hashed once at the configured cost, checked when no user matches


VerifyCallback = Callable[[dict[str, Any], str], Awaitable[None]]


def parse_error(code: ParseCode, message: str) -> ParseError:
    error = ParseError(message)
    error.code = code  # type: ignore[misc]  # one-off Parse codes of the identity API
    return error


def username_taken() -> ParseError:
    return parse_error(ParseCode.USERNAME_TAKEN, "Account already exists for this username.")


def email_taken() -> ParseError:
    return parse_error(ParseCode.EMAIL_TAKEN, "Account already exists for this email address.")


def invalid_login() -> ObjectNotFound:
    return ObjectNotFound("Invalid username/password.")


def pointer(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": USER_CLASS, "objectId": user_id}


@dataclass(frozen=True)
class Login:
    """A logged-in user as ``/login`` answers it: the user object plus ``sessionToken``."""

    user: dict[str, Any]
    created: bool = False


class UserGuard:
    """The ``_User`` write rules (see the module docstring)."""

    def __init__(self, settings: Settings, sessions: SessionStore, providers: AuthProviders,
                 policy: PasswordPolicy, security: SecurityLog, objects: ObjectService) -> None:
        self.settings = settings
        self.sessions = sessions
        self.providers = providers
        self.policy = policy
        self.security = security
        self.objects = objects
        self.on_verify_token: list[VerifyCallback] = []  # after commit: send the verification mail

    async def __call__(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], row: Row,
                       before: Row | None) -> None:
        if "__delete__" in values:
            assert before is not None
            await self.sessions.revoke_user_sessions(unit, before["objectId"])
            await self.security.record(ctx, "user.delete", target=before["objectId"], unit=unit)
            return
        password = values.pop("password", None)
        self._check_fields(ctx, values, before)
        if before is None:
            self._defaults(values, row, password)
        if "authData" in values:
            await self._auth_data(unit, ctx, values, before)
        if password is not None:
            await self._set_password(unit, ctx, password, values, row, before)
        self._email_verification(unit, values, row, before)

    async def prepare(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Hash a new ``password`` before the write opens: bcrypt's tens of milliseconds must not hold the writer
        (on SQLite every other write would wait). Anything odd is left for the rules in the unit to refuse."""
        password = data.get("password") if isinstance(data, Mapping) else None
        if (not isinstance(password, str) or isinstance(password, PreparedPassword) or not password
                or len(password) > MAX_PASSWORD_LENGTH):
            return data
        return {**data, "password": await PreparedPassword.of(password, self.settings.bcrypt_rounds)}

    def _check_fields(self, ctx: RequestContext, values: dict[str, Any], before: Row | None) -> None:
        if "username" in values or before is None:
            name = values.get("username")
            if before is None and name is None and "authData" in values:
                values["username"] = secrets.token_urlsafe(18)  # Parse makes one up for authData sign-ups
            elif not isinstance(name, str) or not name.strip() or len(name) > MAX_USERNAME:
                raise parse_error(ParseCode.USERNAME_MISSING, "bad or missing username")
        if "email" in values and values["email"] is not None and not isinstance(values["email"], wire.Delete):
            email = values["email"]
            if not isinstance(email, str) or len(email) > MAX_EMAIL or not EMAIL.match(email):
                raise parse_error(ParseCode.INVALID_EMAIL_ADDRESS, "Email address format is invalid.")
        if "emailVerified" in values and not ctx.principal.is_master:
            raise parse_error(ParseCode.OPERATION_FORBIDDEN,
                              "Clients aren't allowed to manually update email verification.")

    def _defaults(self, values: dict[str, Any], row: Row, password: object) -> None:
        if password is None and "authData" not in values:
            raise parse_error(ParseCode.PASSWORD_MISSING, "password is required")
        # Parse 9: a new user may always read and write itself, added to any ACL the sign-up sends; with no
        # ACL it is private (enforcePrivateUsers), or readable by all when the app turns that off
        me = row["objectId"]
        if row.get("_rperm") is None:
            row["_rperm"] = [me] if self.settings.enforce_private_users else ["*", me]
            row["_wperm"] = [me]
        row["_rperm"] = _with(row["_rperm"], me)
        row["_wperm"] = _with(row.get("_wperm") or [], me)

    async def _set_password(self, unit: Unit, ctx: RequestContext, password: object, values: dict[str, Any],
                            row: Row, before: Row | None) -> None:
        if not isinstance(password, str) or not password:
            raise parse_error(ParseCode.PASSWORD_MISSING, "password is required")
        username = values.get("username") or (before or {}).get("username")
        self.policy.check(password, username if isinstance(username, str) else None)
        history: list[str] = list((before or {}).get("_password_history") or [])
        current = (before or {}).get("_hashed_password")
        await self.policy.check_history(password, current, history)
        row["_hashed_password"] = (password.hashed if isinstance(password, PreparedPassword)
                                   else await hash_password(password, self.settings.bcrypt_rounds))
        row["_password_changed_at"] = wire.now()
        row["_perishable_token"] = None
        if before is not None:
            if self.policy.history and current:
                row["_password_history"] = [*history, current][-self.policy.history:]
            await self._end_sessions(unit, ctx, before["objectId"])

    async def _end_sessions(self, unit: Unit, ctx: RequestContext, user_id: str) -> None:
        """Parse's ``revokeSessionOnPasswordReset``: a new password ends the user's sessions (the
        caller's own excepted, which Parse would replace by a new one); off, every session stays."""
        revoked = 0
        if self.settings.revoke_session_on_password_reset:
            revoked = await self.sessions.revoke_user_sessions(unit, user_id, ctx.principal.session_token)
        await self.security.record(ctx, "password.change", target=user_id,
                                   details={"revokedSessions": revoked}, unit=unit)

    async def _auth_data(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], before: Row | None) -> None:
        raw = values["authData"]
        if ctx.principal.is_master and _already_verified(raw):
            verified: dict[str, dict[str, str] | None] = dict(raw)
        else:
            verified = await self.providers.verify(wire.encode(raw))
        merged: dict[str, Any] = dict((before or {}).get("authData") or {})
        for provider, entry in verified.items():
            if entry is None:
                merged.pop(provider, None)
                continue
            owner = await self.find_by_auth(unit, provider, entry["id"])
            if owner is not None and (before is None or owner["objectId"] != before["objectId"]):
                raise parse_error(ParseCode.ACCOUNT_ALREADY_LINKED, "this auth is already used")
            merged[provider] = entry
        # unlinking the last provider (an anonymous user signing up) removes authData, as in Parse
        values["authData"] = merged if merged else wire.Delete()

    def _email_verification(self, unit: Unit, values: dict[str, Any], row: Row, before: Row | None) -> None:
        email = values.get("email")
        if not isinstance(email, str) or (before is not None and email == before.get("email")):
            return
        values["emailVerified"] = False
        if not self.settings.verify_user_emails:
            return
        token = secrets.token_urlsafe(24)
        row["_email_verify_token"] = token
        if self.settings.email_verify_token_validity_duration:
            row["_email_verify_token_expires_at"] = wire.now() + timedelta(
                seconds=self.settings.email_verify_token_validity_duration)
        user = {"objectId": row.get("objectId") or (before or {}).get("objectId"), "email": email,
                "username": values.get("username") or (before or {}).get("username")}
        for callback in self.on_verify_token:
            unit.after_commit(_bind(callback, user, token))

    def explain_duplicate(self, error: DuplicateValue) -> ParseError:
        """ObjectService asks this when a unique index refuses a ``_User`` write."""
        return duplicate_error(error)

    async def find_by_auth(self, unit: Unit, provider: str, provider_id: str) -> Row | None:
        field = q.Field(("authData", provider, "id"), "Object")
        return await self.find_row(unit, q.Compare(field, "eq", provider_id))

    async def find_row(self, unit: Unit, where: q.Node) -> Row | None:
        """One ``_User`` row with its hidden columns (for the identity layer only)."""
        schema = await self.user_schema(unit)
        rows = await unit.session.find(schema, q.FindSpec(where, limit=1))
        return rows[0] if rows else None

    async def user_schema(self, unit: Unit) -> ClassSchema:
        return await self.objects.schemas.require(unit, USER_CLASS)


def _with(perms: list[str], user_id: str) -> list[str]:
    return perms if user_id in perms else [*perms, user_id]


def _bind(callback: VerifyCallback, user: dict[str, Any], token: str) -> Callable[[], Awaitable[None]]:
    return lambda: callback(user, token)


def _already_verified(raw: object) -> bool:
    """authData the server itself verified: {provider: {"id": ...}} or None entries only."""
    return isinstance(raw, Mapping) and all(
        entry is None or (isinstance(entry, Mapping) and set(entry) == {"id"}) for entry in raw.values()
    )


def field_eq(name: str, value: str) -> q.Node:
    return q.Compare(q.Field((name,), "String"), "eq", value)


def duplicate_error(error: DuplicateValue) -> ParseError:
    if error.field == "username":
        return username_taken()
    if error.field == "email":
        return email_taken()
    return error


def render_user(schema: ClassSchema, row: Row, file_url: Any, token: str | None = None) -> dict[str, Any]:
    """The user as its owner sees it (``/login``, ``/users/me``), with the session token."""
    out = render(schema, row, file_url)
    if token is not None:
        out["sessionToken"] = token
    return out

