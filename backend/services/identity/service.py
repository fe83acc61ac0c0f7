"""The identity layer assembled: security log, roles, sessions, the ``_User`` guard, account flows.

``build_identity`` wires the parts onto an ObjectService (each registers its class's
write guard there); ``Identity.install`` makes sure the system classes exist and adds
the unique indexes that keep usernames, emails, role names and tokens unique.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from backend.config import Settings
from backend.errors import ParseError
from backend.services.data.objects import ObjectService
from backend.services.data.security_log import SecurityLog
from backend.services.identity.accounts import AccountService
from backend.services.identity.authdata import AuthProviders
from backend.services.identity.mail import LogMailer, MailAdapter, SmtpMailer
from backend.services.identity.passwords import PasswordPolicy
from backend.services.identity.roles import RoleService
from backend.services.identity.sessions import SessionStore
from backend.services.identity.users import UserGuard
from backend.services.shared.events import EventBus
from backend.services.shared.units import Database

log = logging.getLogger("ballast.identity")
SYSTEM_CLASSES = ("_User", "_Session", "_Role", "_SecurityEvent")


@dataclass
class Identity:
    security: SecurityLog
    roles: RoleService
    sessions: SessionStore
    users: UserGuard
    accounts: AccountService
    providers: AuthProviders
    policy: PasswordPolicy
    mailer: MailAdapter
    db: Database
    objects: ObjectService

    async def install(self) -> None:
        """Create the identity classes when missing, and their unique indexes (idempotent)."""
        schemas = self.objects.schemas
        async with self.db.unit() as unit:
            for class_name in SYSTEM_CLASSES:
                await schemas.ensure_class(unit, class_name, {})
        try:
            async with self.db.unit() as unit:
                await unit.session.lock_class("_User")  # instances starting together would make the index twice
                await unit.session.ensure_unique_folded("_User", "username")
                await unit.session.ensure_unique_folded("_User", "email")
                await unit.session.ensure_unique(await schemas.require(unit, "_Role"), ("name",))
                await unit.session.ensure_unique(await schemas.require(unit, "_Session"), ("sessionToken",))
        except ParseError:  # existing duplicates: serve anyway, the service-level checks still apply
            log.exception("could not add the identity unique indexes; remove duplicate users or roles")


def mailer_for(settings: Settings) -> MailAdapter:
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user,
                          settings.smtp_password, settings.smtp_starttls)
    return LogMailer()


def build_identity(settings: Settings, db: Database, objects: ObjectService, events: EventBus) -> Identity:
    security = SecurityLog(objects, events)
    roles = RoleService(db, objects, events, security)
    sessions = SessionStore(objects, roles, settings.session_length)
    providers = AuthProviders(settings.auth)
    policy = PasswordPolicy(settings.password_policy_pattern, settings.password_policy_message,
                            history=settings.password_history)
    mailer = mailer_for(settings)
    guard = UserGuard(settings, sessions, providers, policy, security, objects)
    objects.guards["_User"] = guard
    accounts = AccountService(settings, db, objects, sessions, guard, providers, mailer, security)
    return Identity(security, roles, sessions, guard, accounts, providers, policy, mailer, db, objects)
