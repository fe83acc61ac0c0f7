"""The security trail: ``_SecurityEvent``, append-only records of who did what to identity and access.

Logins (success and failure), sign-ups, password resets, session revocations, role membership
changes and ACL changes are recorded with actor, time (``createdAt``), ip and what changed.
Records are written through ObjectService with the master key and an empty ACL (only the master
key reads them); the ``_SecurityEvent`` guard refuses every update and delete, and every create
that is not the server's own. This is separate from the agent gateway's hash-chained tool-call
audit (``_ToolCall``).
"""

from __future__ import annotations

import logging
from typing import Any

from backend.context import PrincipalKind, RequestContext
from backend.errors import OperationForbidden
from backend.services.data.objects import ObjectService
from backend.services.shared.access import perms_to_acl
from backend.services.shared.events import EventBus, ObjectEvent
from backend.services.shared.units import Unit
from backend.storage.protocols import Row

log = logging.getLogger("ballast.security")
CLASS = "_SecurityEvent"


def actor_of(ctx: RequestContext) -> str:
    """Who acted: a user id, 'master', 'readOnlyMaster', 'agent:<id>', 'anonymous', or the admin the context names."""
    if ctx.actor:
        return ctx.actor
    principal = ctx.principal
    if principal.kind == PrincipalKind.USER and principal.user_id:
        return principal.user_id
    if principal.kind == PrincipalKind.AGENT:
        return f"agent:{principal.agent_id}"
    return str(principal.kind)


class SecurityLog:
    """Appends ``_SecurityEvent`` records; in the caller's unit when given, so they commit together."""

    def __init__(self, objects: ObjectService, events: EventBus | None = None) -> None:
        self.objects = objects
        objects.guards[CLASS] = self._guard
        if events is not None:
            events.subscribe(self._on_change)

    async def _on_change(self, event: ObjectEvent) -> None:
        """ACL changes of any object, recorded once the change has committed."""
        if event.kind != "update" or event.before is None or event.after is None or event.class_name == CLASS:
            return
        before = perms_to_acl(event.before.get("_rperm"), event.before.get("_wperm"))
        after = perms_to_acl(event.after.get("_rperm"), event.after.get("_wperm"))
        if before != after:
            await self.record(event.ctx, "acl.change", target=f"{event.class_name}/{event.after.get('objectId')}",
                              details={"before": before, "after": after})

    async def record(
        self, ctx: RequestContext, event: str, *, target: str | None = None, ok: bool = True,
        details: dict[str, Any] | None = None, actor: str | None = None, unit: Unit | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "event": event, "actor": actor or actor_of(ctx), "ok": ok, "ACL": {},
            "ip": ctx.ip or "", "details": details or {},
        }
        if target is not None:
            data["target"] = target
        try:
            await self.objects.create(RequestContext.internal(), CLASS, data, unit=unit)
        except Exception:
            if unit is not None:
                raise  # inside a transaction the record and the change stand or fall together
            log.exception("could not record security event %s", event)

    async def _guard(self, unit: Unit, ctx: RequestContext, values: dict[str, Any], row: Row,
                     before: Row | None) -> None:
        if before is not None or not ctx.principal.is_master or ctx.principal.is_read_only:
            raise OperationForbidden("Security events are append-only and written by the server.")
