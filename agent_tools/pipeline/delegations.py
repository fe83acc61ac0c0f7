"""Delegations: an agent acts for a user with a token only the gateway accepts.

The user (signed in, with their own session) asks ``POST /agent/v1/delegations`` for one, naming
the agent and optionally an intent; the answer is a short-lived token bound to (agent, user,
intent) that the agent sends as ``X-Ballast-Delegation``. It is useless on ``/parse`` (it is no
session), useless to any other agent, and the user can revoke it. Only its sha256 is stored.
The user's own session on a tool call (``X-Parse-Session-Token``) is refused unless the setting
``agent_session_delegation`` allows it (default off).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agent_tools.model.blocked import Blocked
from agent_tools.pipeline.call import CallRequest
from agent_tools.stores.classes import DELEGATION, Records
from backend import wire
from backend.context import Principal
from backend.errors import InvalidValue, ObjectNotFound

if TYPE_CHECKING:
    from agent_tools.stores.agents import Agent
    from agent_tools.stores.parts import Parts

DELEGATION_PREFIX = "bdl_"
MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class Delegation:
    id: str
    agent_id: str
    user_id: str
    intent: str | None
    expires_at: str
    revoked: bool

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "agentId": self.agent_id, "userId": self.user_id, "intent": self.intent,
                "expiresAt": self.expires_at, "revoked": self.revoked}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _from(row: dict[str, Any]) -> Delegation:
    expires = row.get("expiresAt")
    shown = str(expires.get("iso")) if isinstance(expires, dict) else ""
    return Delegation(str(row["objectId"]), str(row.get("agentId")), str(row.get("userId")), row.get("intent"),
                      shown, bool(row.get("revoked")))


class DelegationStore:
    """Grant, list, revoke delegations; resolve the one a tool call presents."""

    def __init__(self, tools: Parts, records: Records) -> None:
        self.tools, self.records = tools, records

    async def grant(self, user: Principal, agent_name: str, intent: str | None,
                    minutes: int) -> tuple[Delegation, str]:
        if user.user_id is None:
            raise InvalidValue("Only a signed-in user can delegate.")
        if not 1 <= minutes <= MAX_MINUTES:
            raise InvalidValue(f"minutes must be between 1 and {MAX_MINUTES}.")
        agent = await self.tools.agents.find(agent_name)
        if intent is not None:
            await self.tools.intents.get(intent)  # it must exist
        token = DELEGATION_PREFIX + secrets.token_urlsafe(32)
        expires = wire.now() + timedelta(minutes=minutes)
        row = await self.records.create(DELEGATION, {
            "tokenHash": _hash(token), "agentId": agent.id, "userId": user.user_id, "intent": intent,
            "expiresAt": {"__type": "Date", "iso": wire.format_iso(expires)}, "revoked": False})
        return _from(await self.records.get(DELEGATION, row["objectId"])), token

    async def of_user(self, user_id: str) -> list[Delegation]:
        rows = await self.records.find(DELEGATION, {"userId": user_id}, order="-createdAt", limit=1000)
        return [_from(row) for row in rows]

    async def revoke(self, user_id: str, delegation_id: str) -> Delegation:
        found = await self.records.first(DELEGATION, {"objectId": delegation_id, "userId": user_id})
        if found is None:
            raise ObjectNotFound("No such delegation.")
        await self.records.update(DELEGATION, delegation_id, {"revoked": True})
        return _from(await self.records.get(DELEGATION, delegation_id))

    async def acting_user(self, request: CallRequest, agent: Agent) -> Principal | None:
        """The user this call acts for (None: the agent alone); Blocked when the delegation does not hold."""
        if request.delegation:
            return await self._delegated(request, agent)
        if not request.user_token:
            return None
        if not self.tools.services.settings.agent_session_delegation:
            raise Blocked("delegation.session_header", "A tool call does not take the user's session token; "
                          "the user grants a delegation (POST /agent/v1/delegations) sent as X-Ballast-Delegation.",
                          status=400, code=142)
        user = await self.tools.services.sessions.principal_for(request.user_token)
        if user is None:
            raise Blocked("delegation.session", "The user session this agent acts for is invalid or expired.",
                          status=401, code=209)
        return user

    async def _delegated(self, request: CallRequest, agent: Agent) -> Principal:
        token = str(request.delegation)
        row = None
        if token.startswith(DELEGATION_PREFIX) and len(token) <= 128:
            row = await self.records.first(DELEGATION, {"tokenHash": _hash(token)})
        if row is None or row.get("revoked") or row.get("agentId") != agent.id or _expired(row):
            raise Blocked("delegation.invalid", "This delegation is unknown, revoked, expired or not this agent's.",
                          status=401, code=209)
        bound = row.get("intent")
        if bound is not None and getattr(request.intent, "name", None) != bound:
            raise Blocked("delegation.intent", f"This delegation holds only for runs of the intent {bound!r}.")
        if await self.records.row("_User", str(row["userId"])) is None:
            raise Blocked("delegation.invalid", "The user of this delegation no longer exists.", status=401, code=209)
        return await self.tools.user_principal(str(row["userId"]))


def _expired(row: dict[str, Any]) -> bool:
    expires = row.get("expiresAt")
    return not isinstance(expires, dict) or wire.parse_iso(str(expires.get("iso"))) <= wire.now()
