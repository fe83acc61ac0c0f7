"""Account flows over ``_User`` and ``_Session``: sign up, log in, log out, me, authData login,
email verification and password reset (tokens, mails, the lockout policy).

Every user write goes through ObjectService, where the ``_User`` guard (``users.py``)
applies the rules; this module adds the flows Parse's ``/users``, ``/login``,
``/logout``, ``/requestPasswordReset`` and ``/verificationEmailRequest`` routes offer.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import urllib.parse
from datetime import timedelta
from typing import Any

from backend import wire
from backend.config import Settings
from backend.context import RequestContext
from backend.errors import DuplicateValue, InvalidSessionToken, ObjectNotFound, ParseCode
from backend.services.data.objects import ObjectService
from backend.services.data.security_log import SecurityLog
from backend.services.identity.authdata import AuthProviders
from backend.services.identity.mail import Mail, MailAdapter
from backend.services.identity.passwords import hash_password, verify_password
from backend.services.identity.sessions import SessionStore
from backend.services.identity.users import (
    DUMMY_PASSWORD,
    USER_CLASS,
    Login,
    UserGuard,
    duplicate_error,
    field_eq,
    invalid_login,
    parse_error,
    render_user,
)
from backend.services.shared.units import Database, Unit
from backend.storage.protocols import Row

log = logging.getLogger("ballast.accounts")
# Parse answers an authData log-in or sign-up with what the providers returned; ours return nothing
AUTH_DATA_RESPONSE: dict[str, Any] = {"authDataResponse": {}}


class AccountService:
    """The flows of Parse's user routes; rules live in the ``_User`` guard."""

    def __init__(self, settings: Settings, db: Database, objects: ObjectService, sessions: SessionStore,
                 guard: UserGuard, providers: AuthProviders, mailer: MailAdapter, security: SecurityLog) -> None:
        self.settings = settings
        self.db = db
        self.objects = objects
        self.sessions = sessions
        self.guard = guard
        self.providers = providers
        self.mailer = mailer
        self.security = security
        guard.on_verify_token.append(self.send_verification)
        self._dummy_hash: str | None = None

    # --- sign up and log in ---------------------------------------------------------------

    async def sign_up(self, ctx: RequestContext, body: dict[str, Any], within: Unit | None = None) -> Login:
        """POST /users: a new user and its session; with only authData, Parse's log-in-or-sign-up.
        ``within``: the unit of a batch transaction the sign-up is part of."""
        if "authData" in body and not body.get("password"):
            return await self.log_in_with_auth_data(ctx, body, within)
        body = dict(await self.guard.prepare(body))  # bcrypt before the unit: it must not hold the writer
        try:
            async with self.db.unit(within) as unit:
                saved = await self.objects.create(ctx, USER_CLASS, body, unit=unit)
                session = await self.sessions.create(unit, saved["objectId"], "signup", "password",
                                                      ctx.installation_id)
                await self.security.record(ctx, "user.signup", target=saved["objectId"], unit=unit)
        except DuplicateValue as error:
            raise duplicate_error(error) from error
        return Login({**saved, "sessionToken": session["sessionToken"]}, created=True)

    async def log_in_with_auth_data(self, ctx: RequestContext, body: dict[str, Any],
                                    within: Unit | None = None) -> Login:
        verified = await self.providers.verify(body.get("authData"))
        linked = {p: entry for p, entry in verified.items() if entry is not None}
        if not linked:
            raise parse_error(ParseCode.OBJECT_NOT_FOUND, "Invalid auth data: nothing to log in with.")
        provider = sorted(linked)[0]
        async with self.db.unit(within) as unit:
            row = None
            for name, entry in linked.items():
                row = row or await self.guard.find_by_auth(unit, name, entry["id"])
            if row is not None:
                login = await self._start_session(unit, ctx, row, "login", provider)
                return Login(login.user | AUTH_DATA_RESPONSE)
        # verified above: the guard takes it as is (master); Parse answers with the username it made up
        data = {"username": secrets.token_urlsafe(18), **body, "authData": verified}
        try:
            async with self.db.unit(within) as unit:
                saved = await self.objects.create(RequestContext.system(), USER_CLASS, data, unit=unit)
                session = await self.sessions.create(unit, saved["objectId"], "signup", provider, ctx.installation_id)
                await self.security.record(ctx, "user.signup", target=saved["objectId"],
                                           details={"provider": provider}, unit=unit)
        except DuplicateValue as error:
            raise duplicate_error(error) from error
        user = {**saved, "username": data["username"], "sessionToken": session["sessionToken"]}
        return Login(user | {"authData": linked} | AUTH_DATA_RESPONSE, created=True)

    async def log_in(self, ctx: RequestContext, username: object, email: object, password: object) -> Login:
        """POST/GET /login, with the lockout and unverified-email policies."""
        row = await self._authenticate(ctx, username, email, password)
        async with self.db.unit() as unit:
            current = await self._unchanged(unit, row)
            return await self._start_session(unit, ctx, current, "login", "password")

    async def verify_password(self, ctx: RequestContext, username: object, email: object,
                              password: object) -> dict[str, Any]:
        """GET/POST /verifyPassword: the user, as a log-in checks it, without starting a session."""
        row = await self._authenticate(ctx, username, email, password)
        async with self.db.unit(read_only=True) as unit:
            return render_user(await self.guard.user_schema(unit), row, self.objects.file_url)

    async def log_in_as(self, ctx: RequestContext, user_id: object) -> Login:
        """POST /loginAs (master key): a session for any user, made with ``authProvider: masterkey``."""
        if not ctx.principal.is_master or ctx.principal.is_read_only:
            raise parse_error(ParseCode.OPERATION_FORBIDDEN, "master key is required")
        if not isinstance(user_id, str) or not user_id:
            raise parse_error(ParseCode.INVALID_VALUE, "userId must not be empty, null, or undefined")
        async with self.db.unit() as unit:
            row = await self.guard.find_row(unit, field_eq("objectId", user_id))
            if row is None:
                raise ObjectNotFound("user not found")
            return await self._start_session(unit, ctx, row, "login", "masterkey")

    async def _authenticate(self, ctx: RequestContext, username: object, email: object, password: object) -> Row:
        """The user whose password this is; a failure is counted (lockout) and recorded, then refused."""
        if not isinstance(username, str) and not isinstance(email, str):
            raise parse_error(ParseCode.USERNAME_MISSING, "username/email is required.")
        if not isinstance(password, str) or not password:
            raise parse_error(ParseCode.PASSWORD_MISSING, "password is required.")
        where = field_eq("username", username) if isinstance(username, str) else field_eq("email", str(email))
        # read, verify, then write: bcrypt's tens of milliseconds run with no transaction open, so a storm of
        # wrong passwords never holds the writer (on SQLite every other write would queue behind each one)
        async with self.db.unit(read_only=True) as unit:
            row = await self.guard.find_row(unit, where)
        self._check_lockout(row)
        hashed = row.get("_hashed_password") if row else await self._dummy()
        if row is not None and await verify_password(password, hashed):
            self._check_verified(row)
            return row
        if row is not None and self.settings.account_lockout_threshold:
            async with self.db.unit() as unit:
                await self._count_failure(unit, row["objectId"])
        await self.security.record(ctx, "login", ok=False, target=row["objectId"] if row else None,
                                   details={"username": str(username or email)[:256]})
        raise invalid_login()

    async def _unchanged(self, unit: Unit, verified: Row) -> Row:
        """The user again, in the write unit: a password changed, a user deleted or locked out since the
        check outside any transaction fails this log-in as if the password were wrong."""
        row = await self.guard.find_row(unit, field_eq("objectId", verified["objectId"]))
        if row is None or row.get("_hashed_password") != verified.get("_hashed_password"):
            raise invalid_login()
        self._check_lockout(row)
        return row

    async def _dummy(self) -> str:
        """A hash at the configured cost: an unknown username costs as much time as a wrong password."""
        if self._dummy_hash is None:
            self._dummy_hash = await hash_password(DUMMY_PASSWORD, self.settings.bcrypt_rounds)
        return self._dummy_hash

    async def _start_session(self, unit: Unit, ctx: RequestContext, row: Row, action: str, provider: str) -> Login:
        schema = await self.guard.user_schema(unit)
        if row.get("_failed_login_count") or row.get("_account_lockout_expires_at"):
            await unit.session.update(schema, row["objectId"],
                                      {"_failed_login_count": 0, "_account_lockout_expires_at": None})
        session = await self.sessions.create(unit, row["objectId"], action, provider, ctx.installation_id)
        await self.security.record(ctx, "login", target=row["objectId"], details={"provider": provider}, unit=unit)
        return Login(render_user(schema, row, self.objects.file_url, session["sessionToken"]))

    def _check_lockout(self, row: Row | None) -> None:
        until = row.get("_account_lockout_expires_at") if row else None
        if self.settings.account_lockout_threshold and until is not None and until > wire.now():
            minutes = self.settings.account_lockout_duration
            raise ObjectNotFound(
                f"Your account is locked due to multiple failed login attempts. Please try again after "
                f"{minutes} minute(s)"
            )

    def _check_verified(self, row: Row) -> None:
        if (self.settings.verify_user_emails and self.settings.prevent_login_with_unverified_email
                and row.get("email") and not row.get("emailVerified")):
            raise parse_error(ParseCode.EMAIL_NOT_FOUND, "User email is not verified.")

    async def _count_failure(self, unit: Unit, user_id: str) -> None:
        """One more failed log-in, counted on the row as read in the write unit (concurrent failures add up)."""
        threshold = self.settings.account_lockout_threshold
        row = await self.guard.find_row(unit, field_eq("objectId", user_id))
        if not threshold or row is None:
            return
        count = int(row.get("_failed_login_count") or 0) + 1
        changes: Row = {"_failed_login_count": count}
        if count >= threshold:
            changes = {"_failed_login_count": 0, "_account_lockout_expires_at": wire.now() + timedelta(
                minutes=self.settings.account_lockout_duration)}
        await unit.session.update(await self.guard.user_schema(unit), row["objectId"], changes)

    async def update(self, ctx: RequestContext, user_id: str, body: dict[str, Any],
                     within: Unit | None = None) -> dict[str, Any]:
        """PUT /users/:id: ObjectService's update, with 202/203 for a taken username or email."""
        try:
            return await self.objects.update(ctx, USER_CLASS, user_id, body, unit=within)
        except DuplicateValue as error:
            raise duplicate_error(error) from error

    # --- the current user and its session -------------------------------------------------

    async def me(self, ctx: RequestContext) -> dict[str, Any]:
        """GET /users/me: the session's user, with its token."""
        user_id, token = ctx.principal.user_id, ctx.principal.session_token
        if user_id is None or token is None:
            raise InvalidSessionToken("Invalid session token")
        async with self.db.unit(read_only=True) as unit:
            row = await self.guard.find_row(unit, field_eq("objectId", user_id))
            if row is None:
                raise InvalidSessionToken("Invalid session token")
            return render_user(await self.guard.user_schema(unit), row, self.objects.file_url, token)

    async def log_out(self, ctx: RequestContext) -> None:
        token = ctx.principal.session_token
        if token is None:
            return
        async with self.db.unit() as unit:
            session = await self.sessions.find_by_token(token, unit)
            if session is not None:
                await self.objects.delete(RequestContext.system(), "_Session", session["objectId"], unit=unit)
                await self.security.record(ctx, "logout", target=ctx.principal.user_id, unit=unit)

    async def current_session(self, ctx: RequestContext) -> dict[str, Any]:
        token = ctx.principal.session_token
        session = await self.sessions.find_by_token(token) if token else None
        if session is None:
            raise InvalidSessionToken("Invalid session token")
        return session

    async def revoke_session(self, ctx: RequestContext, session_id: str, within: Unit | None = None) -> None:
        """DELETE /sessions/:id: the session's ACL decides who may; the revocation is recorded."""
        async with self.db.unit(within) as unit:
            await self.objects.delete(ctx, "_Session", session_id, unit=unit)
            await self.security.record(ctx, "session.revoke", target=session_id, unit=unit)

    async def upgrade_session(self, ctx: RequestContext) -> dict[str, Any]:
        """POST /upgradeToRevocableSession: our tokens are all revocable; a fresh one is issued."""
        if ctx.principal.user_id is None:
            raise InvalidSessionToken("invalid session")
        async with self.db.unit() as unit:
            return await self.sessions.create(unit, ctx.principal.user_id, "upgrade", "password",
                                              ctx.installation_id)

    # --- email verification and password reset --------------------------------------------

    def link(self, page: str, token: str, username: str) -> str:
        query = urllib.parse.urlencode({"token": token, "username": username})
        return f"{self.settings.public_url}/apps/{self.settings.application_id}/{page}?{query}"

    async def send_verification(self, user: dict[str, Any], token: str) -> None:
        link = self.link("verify_email", token, str(user.get("username") or ""))
        await self._mail(str(user["email"]), f"Please verify your e-mail for {self.settings.app_name}",
                         f"Hi,\n\nYou are being asked to confirm the e-mail address {user['email']} with "
                         f"{self.settings.app_name}\n\nClick here to confirm it:\n{link}\n")

    async def _mail(self, to: str, subject: str, text: str) -> None:
        try:
            await self.mailer.send(Mail(to, subject, text))
        except Exception:  # a mail that cannot go out must not fail the request that caused it
            log.exception("could not send mail %r", subject)

    async def request_password_reset(self, ctx: RequestContext, email: object) -> None:
        """Parse answers {} whether or not the email is known (no account enumeration)."""
        _check_email_param(email)
        async with self.db.unit() as unit:
            row = await self.guard.find_row(unit, field_eq("email", str(email)))
            if row is None:
                return
            token = secrets.token_urlsafe(24)
            changes: Row = {"_perishable_token": token}
            if self.settings.password_reset_token_validity_duration:
                changes["_perishable_token_expires_at"] = wire.now() + timedelta(
                    seconds=self.settings.password_reset_token_validity_duration)
            await unit.session.update(await self.guard.user_schema(unit), row["objectId"], changes)
            await self.security.record(ctx, "password.reset.request", target=row["objectId"], unit=unit)
        link = self.link("choose_password", token, str(row.get("username") or ""))
        await self._mail(str(email), f"Password Reset for {self.settings.app_name}",
                         f"Hi,\n\nYou requested to reset your password for {self.settings.app_name}.\n\n"
                         f"Click here to reset it:\n{link}\n")

    async def reset_password(self, ctx: RequestContext, username: str, token: str, password: str) -> None:
        """The reset page's form: a valid, unexpired token sets the new password (policy applies)."""
        changes = await self.guard.prepare({"password": password})  # hashed before the unit, as at sign-up
        async with self.db.unit() as unit:
            row = await self._row_with_token(unit, username, "_perishable_token", token)
            await self.objects.update(RequestContext.system(), USER_CLASS, row["objectId"], changes, unit=unit)
            if self.settings.revoke_session_on_password_reset:
                await self.sessions.revoke_user_sessions(unit, row["objectId"])
            await self.security.record(ctx, "password.reset", target=row["objectId"], unit=unit)

    async def verify_email(self, ctx: RequestContext, username: str, token: str) -> None:
        async with self.db.unit() as unit:
            row = await self._row_with_token(unit, username, "_email_verify_token", token)
            await unit.session.update(await self.guard.user_schema(unit), row["objectId"], {
                "emailVerified": True, "_email_verify_token": None, "_email_verify_token_expires_at": None})
            await self.security.record(ctx, "email.verify", target=row["objectId"], unit=unit)

    async def _row_with_token(self, unit: Unit, username: str, column: str, token: str) -> Row:
        row = await self.guard.find_row(unit, field_eq("username", username)) if username else None
        stored = row.get(column) if row else None
        if row is None or not isinstance(stored, str) or not hmac.compare_digest(stored.encode(), token.encode()):
            raise parse_error(ParseCode.OTHER_CAUSE, "Invalid or expired link.")
        expires = row.get(column + "_expires_at")
        if expires is not None and expires < wire.now():
            raise parse_error(ParseCode.OTHER_CAUSE, "Invalid or expired link.")
        return row

    async def request_verification(self, ctx: RequestContext, email: object) -> None:
        """POST /verificationEmailRequest: a new token and mail for an unverified address."""
        _check_email_param(email)
        async with self.db.unit() as unit:
            row = await self.guard.find_row(unit, field_eq("email", str(email)))
            if row is None:
                raise parse_error(ParseCode.EMAIL_NOT_FOUND, f"No user found with email {str(email)[:320]}.")
            if row.get("emailVerified"):
                raise parse_error(ParseCode.OTHER_CAUSE, f"Email {str(email)[:320]} is already verified.")
            token = secrets.token_urlsafe(24)
            await unit.session.update(await self.guard.user_schema(unit), row["objectId"],
                                      {"_email_verify_token": token})
        await self.send_verification(row, token)


def _check_email_param(email: object) -> None:
    if email is None or email == "":
        raise parse_error(ParseCode.EMAIL_MISSING, "you must provide an email")
    if not isinstance(email, str):
        raise parse_error(ParseCode.INVALID_EMAIL_ADDRESS, "you must provide a valid email string")


__all__ = ["AccountService"]
