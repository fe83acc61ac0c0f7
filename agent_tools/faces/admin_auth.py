"""Who may use the admin API: the master key (from the allowed IPs) or a console admin's session. Nobody else.

The one check every ``/agent/v1/admin`` route goes through (``Admin`` / ``AdminWrite``). A user
session, whatever roles it holds, gives no admin power; a request that carries any agent
credential (a gateway token, an OAuth access or run token, a delegation) is refused outright,
even when it also carries a master key or an admin session: an agent never administers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from agent_tools.faces.rest import Tools, bearer
from agent_tools.stores.admins import Admin as ConsoleAdmin
from agent_tools.stores.admins import AdminLoginFailed, AdminSession, is_admin_token
from agent_tools.wiring import AgentTools
from backend.api import credentials
from backend.api.auth import client_ip, resolve_context
from backend.context import ANONYMOUS, RequestContext
from backend.errors import InvalidSessionToken, Unauthorized

ADMIN_SESSION_HEADER = credentials.ADMIN_SESSION
SIGN_IN_RATE = "10/minute"  # per address: bcrypt already makes each guess cost ~50 ms of our CPU
DELEGATION_HEADER = credentials.DELEGATION


class AdminRefused(Unauthorized):
    """403 with a Parse code and the rule in the message (``admin.required``, ``admin.agent_credentials``...)."""

    def to_wire(self) -> dict[str, object]:
        return {"code": int(self.code), "error": self.message}


@dataclass(frozen=True)
class AdminCaller:
    """Who is administering: the master key (read-only or not) or a console admin."""

    name: str  # 'master', 'readOnlyMaster' or 'admin:<username>': what audit and security records say
    can_change: bool
    ip: str
    admin: ConsoleAdmin | None = None
    via: str | None = None  # the face, when not the admin API: 'console' or 'cli' (kept in the record)

    @property
    def context(self) -> RequestContext:
        """For security records: the caller's address (the actor is ``name``)."""
        return RequestContext(ANONYMOUS, ip=self.ip)


def admin_token_of(request: Request) -> str | None:
    """The console admin session the request presents, in its header or as a bearer token."""
    given = request.headers.get(ADMIN_SESSION_HEADER) or bearer(request)
    return given if is_admin_token(given) else None


def agent_credentials_in(request: Request) -> bool:
    """Any bearer that is not an admin session is an agent's (gateway, access, run token), as is a delegation."""
    token = bearer(request)
    return bool(request.headers.get(DELEGATION_HEADER)) or (token is not None and not is_admin_token(token))


async def admin_caller(request: Request, tools: Tools) -> AdminCaller:
    if agent_credentials_in(request):
        raise AdminRefused("admin.agent_credentials: a request carrying agent credentials cannot administer.")
    ip = client_ip(request)
    if request.headers.get("x-parse-master-key"):
        services = tools.services
        ctx = await resolve_context(request, services.settings, services.sessions)  # bad key or IP: 403
        if ctx.principal.is_master:
            return AdminCaller(str(ctx.principal.kind), not ctx.principal.is_read_only, ip)
    token = admin_token_of(request)
    if token is not None:
        await tools.ready()
        admin = await tools.admins.resolve(token)
        if admin is None:
            raise InvalidSessionToken("admin.session: this admin session is invalid, expired or ended.")
        return AdminCaller(f"admin:{admin.username}", admin.can_change, ip, admin)
    raise AdminRefused("admin.required: the master key or a console admin session is required "
                       "(app users and roles have no admin power).")


async def admin_writer(caller: Annotated[AdminCaller, Depends(admin_caller)]) -> AdminCaller:
    if not caller.can_change:
        raise AdminRefused("admin.read_only: this admin may look but not change agents, approvals or policy.")
    return caller


async def master_caller(caller: Annotated[AdminCaller, Depends(admin_writer)]) -> AdminCaller:
    """Managing console admins themselves: the master key only (or the CLI)."""
    if caller.admin is not None:
        raise AdminRefused("admin.master_required: only the master key or the CLI manage console admins.")
    return caller


Admin = Annotated[AdminCaller, Depends(admin_caller)]
AdminWrite = Annotated[AdminCaller, Depends(admin_writer)]
MasterAdmin = Annotated[AdminCaller, Depends(master_caller)]


def who(caller: AdminCaller) -> str:
    return caller.name


async def note(tools: AgentTools, caller: AdminCaller, event: str, target: str | None = None,
               details: dict[str, Any] | None = None, *, ok: bool = True) -> None:
    """A security record of an admin action, naming the admin."""
    via = {"via": caller.via} if caller.via else {}
    await tools.services.identity.security.record(caller.context, event, target=target, ok=ok,
                                                  details=via | (details or {}), actor=caller.name)


async def admin_sign_in(tools: AgentTools, username: str, password: str, ip: str) -> AdminSession:
    """Sign a console admin in (the admin API and the console page alike): rate limited per address, every
    attempt a security record; AdminRefused (rate) or AdminLoginFailed otherwise."""
    await tools.ready()
    attempt = AdminCaller(f"admin:{username}", False, ip)
    if not await tools.limits.hit(SIGN_IN_RATE, "admin-sign-in", ip):
        await note(tools, attempt, "admin.login", username, {"rule": "admin.rate"}, ok=False)
        raise AdminRefused("admin.rate: too many sign-in attempts from this address; wait a minute.")
    try:
        session = await tools.admins.authenticate(username, password)
    except AdminLoginFailed:
        await note(tools, attempt, "admin.login", username, ok=False)
        raise
    await note(tools, attempt, "admin.login", session.admin.id)
    return session
