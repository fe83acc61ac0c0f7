"""Roles (``_Role``): name rules, membership changes, and a user's roles with the hierarchy.

Parse's hierarchy: role A's ``roles`` relation lists roles whose members inherit A. A
user's roles are therefore the roles whose ``users`` hold the user, then every role whose
``roles`` holds one of those, to a fixed point. Parse Server walks that one query per
level (parse-server#1365, #1380); here it is one recursive SQL query (``find_reachable``),
cached per user and dropped whenever a ``_Role`` changes.
"""

from __future__ import annotations

import re
import time
from typing import Any

from backend import wire
from backend.context import RequestContext
from backend.errors import ParseCode, ParseError
from backend.services.data.objects import ObjectService
from backend.services.data.security_log import SecurityLog
from backend.services.shared.events import EventBus, ObjectEvent
from backend.services.shared.units import Database, Unit
from backend.storage.protocols import Row

ROLE_CLASS = "_Role"
ROLE_NAME = re.compile(r"^[0-9A-Za-z_\- ]{1,128}$")
CACHE_SECONDS = 30.0  # bounds staleness when another instance changed a role


class InvalidRoleName(ParseError):
    code = ParseCode.INVALID_ROLE_NAME
    default_message = "Invalid role name."


class RoleService:
    """The ``_Role`` write rules and the roles-of-a-user lookup (cached)."""

    def __init__(self, db: Database, objects: ObjectService, events: EventBus, security: SecurityLog) -> None:
        self.db = db
        self.objects = objects
        self.security = security
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        objects.guards[ROLE_CLASS] = self._guard
        events.subscribe(self._on_change)

    async def roles_for(self, user_id: str) -> frozenset[str]:
        """Names of every role the user holds, inherited ones included."""
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.unit(read_only=True) as unit:
            schema = await self.objects.schemas.get(unit, ROLE_CLASS)
            rows = await unit.session.find_reachable(schema, "users", "roles", user_id) if schema else []
        names = frozenset(str(row["name"]) for row in rows if isinstance(row.get("name"), str))
        self._cache[user_id] = (time.monotonic() + CACHE_SECONDS, names)
        return names

    def forget(self) -> None:
        self._cache.clear()

    async def _on_change(self, event: ObjectEvent) -> None:
        if event.class_name in (ROLE_CLASS, "_User"):
            self.forget()

    async def _guard(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], row: Row,
                     before: Row | None) -> None:
        unit.after_commit(self.forget)  # membership may change: the cache must not outlive the commit
        if "__delete__" in values:
            await self.security.record(ctx, "role.delete", target=str(before and before.get("name")), unit=unit)
            return
        name = values.get("name")
        if before is None:
            if not isinstance(name, str) or not ROLE_NAME.match(name):
                raise InvalidRoleName(
                    "A role's name can only contain alphanumeric characters, _, -, and spaces." if isinstance(
                        name, str) else "A role's name must be a String."
                )
        elif "name" in values and name != before.get("name"):
            raise InvalidRoleName("A role's name can only be set before it has been saved.")
        changes = _membership_changes(values)
        if before is None or changes:
            role = name if before is None else before.get("name")
            event = "role.create" if before is None else "role.members"
            await self.security.record(ctx, event, target=str(role), details=changes, unit=unit)


def _membership_changes(values: dict[str, Any]) -> dict[str, Any]:
    """{'users': {'add': [...], 'remove': [...]}, 'roles': ...} of the relation ops in a write."""
    out: dict[str, Any] = {}
    for key in ("users", "roles"):
        value = values.get(key)
        if isinstance(value, wire.AddRelation | wire.RemoveRelation | wire.RelationBatch):
            if isinstance(value, wire.RelationBatch):
                added, removed = value.add, value.remove
            elif isinstance(value, wire.AddRelation):
                added, removed = value.pointers, ()
            else:
                added, removed = (), value.pointers
            out[key] = {"add": [p.object_id for p in added], "remove": [p.object_id for p in removed]}
    return out
