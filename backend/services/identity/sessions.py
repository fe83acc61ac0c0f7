"""Session tokens -> Principals, and the revocable sessions (``_Session``) that back them.

``SessionResolver`` is the seam ``backend.api.auth`` asks; ``SessionStore`` is the
identity layer's implementation: a token resolves while its ``_Session`` row exists
and has not expired, to a USER Principal carrying the user's roles (hierarchy
included). Logging out deletes the row, so revocation is immediate everywhere.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from backend import wire
from backend.context import Principal, PrincipalKind, RequestContext
from backend.errors import OperationForbidden
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.shared.units import Unit
from backend.storage.protocols import Row


class SessionResolver(Protocol):
    async def principal_for(self, token: str) -> Principal | None:
        """The user Principal (with roles) of a live session token, or None."""


class NoSessions:
    """Resolves nothing: the server has no users yet."""

    async def principal_for(self, token: str) -> Principal | None:
        return None


# --- revocable sessions in ``_Session`` ---------------------------------------------------------

SESSION_CLASS = "_Session"


def new_session_token() -> str:
    """Parse's revocable token shape: 'r:' and 32 hex digits of randomness."""
    return "r:" + secrets.token_hex(16)


class RoleLookup(Protocol):
    async def roles_for(self, user_id: str) -> frozenset[str]: ...


class SessionStore:
    """Creates, resolves and revokes ``_Session`` rows (through ObjectService, master context)."""

    def __init__(self, objects: ObjectService, roles: RoleLookup, session_length: int) -> None:
        self.objects = objects
        self.roles = roles
        self.session_length = session_length
        objects.guards[SESSION_CLASS] = self._guard

    async def create(
        self, unit: Unit, user_id: str, action: str, provider: str = "password", installation_id: str | None = None,
    ) -> dict[str, Any]:
        """A new session for the user in ``unit``; answers it as Parse renders it (token included)."""
        token = new_session_token()
        expires = wire.now() + timedelta(seconds=self.session_length)
        data: dict[str, Any] = {
            "user": {"__type": "Pointer", "className": "_User", "objectId": user_id},
            "sessionToken": token, "expiresAt": wire.encode(expires),
            "createdWith": {"action": action, "authProvider": provider},
            "ACL": {user_id: {"read": True, "write": True}},
        }
        if installation_id:
            data["installationId"] = installation_id
            await self.revoke_user_sessions(unit, user_id, installation_id=installation_id)
        saved = await self.objects.create(RequestContext.system(), SESSION_CLASS, data, unit=unit)
        return {**data, **saved}

    async def find_by_token(self, token: str, unit: Unit | None = None) -> dict[str, Any] | None:
        if not token or len(token) > 512:
            return None
        found = await self.objects.find(
            RequestContext.system(), SESSION_CLASS, FindOptions(where={"sessionToken": token}, limit=1), unit=unit,
        )
        return found.results[0] if found.results else None

    async def principal_for(self, token: str) -> Principal | None:
        session = await self.find_by_token(token)
        if session is None or not _live(session):
            return None
        user = session.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("objectId"), str):
            return None
        user_id = user["objectId"]
        return Principal(PrincipalKind.USER, user_id, await self.roles.roles_for(user_id), session_token=token)

    async def revoke_user_sessions(self, unit: Unit, user_id: str, keep_token: str | None = None,
                                   installation_id: str | None = None) -> int:
        """Delete the user's sessions (all but ``keep_token``; only those of ``installation_id`` when
        given: Parse keeps one session per user and installation) in ``unit``; answers how many."""
        where: dict[str, Any] = {"user": {"__type": "Pointer", "className": "_User", "objectId": user_id}}
        if installation_id is not None:
            where["installationId"] = installation_id
        found = await self.objects.find(
            RequestContext.system(), SESSION_CLASS, FindOptions(where=where, limit=10_000), unit=unit,
        )
        revoked = 0
        for session in found.results:
            if keep_token is not None and hmac.compare_digest(str(session.get("sessionToken", "")), keep_token):
                continue
            await self.objects.delete(RequestContext.system(), SESSION_CLASS, session["objectId"], unit=unit)
            revoked += 1
        return revoked

    async def _guard(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], row: Row,
                     before: Row | None) -> None:
        # clients may read and delete (log out) their sessions; only the server makes or changes them
        if "__delete__" in values or (ctx.principal.is_master and not ctx.principal.is_read_only):
            return
        raise OperationForbidden("Sessions are created by logging in and cannot be changed.")


def _live(session: Mapping[str, Any]) -> bool:
    expires = session.get("expiresAt")
    if isinstance(expires, dict) and isinstance(expires.get("iso"), str):
        return bool(wire.parse_iso(expires["iso"]) > wire.now())
    return True
