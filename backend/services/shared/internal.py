"""Ballast's internal classes: the gateway's and the identity layer's own records, not the app's data.

No request can create, change or delete them, not even with the master key: only the services
that own them, acting as the ``INTERNAL`` principal (``RequestContext.internal()``), which no
header, key or session resolves to. Classes holding secrets (token and password hashes) cannot
even be read. ``access.require_class`` applies this on every ObjectService path, so REST,
batch, cloud code (its master context too), jobs and agent tools all meet the same check.
"""

from __future__ import annotations

from backend.errors import OperationForbidden

# admin power, agent identities and the audit: whoever could write these could grant themselves anything
INTERNAL_CLASSES = frozenset({
    "_Agent", "_Approval", "_ToolCall", "_AuditHead", "_AgentPolicy", "_AgentIntent", "_FieldPolicy",
    "_Provenance", "_SecurityEvent", "_Admin", "_AdminSession", "_Delegation", "_OAuthGrant", "_ScriptLog",
    "_Hooks",
})
# their rows hold token or password hashes: nothing outside the owning service reads them
SECRET_CLASSES = frozenset({"_Agent", "_Admin", "_AdminSession", "_Delegation", "_OAuthGrant"})


class InternalClass(OperationForbidden):
    """A request reached for one of Ballast's own classes (119, rule ``internal.class``)."""


def refuse_internal(class_name: object) -> None:
    """The schema API's check: internal classes are not listed, read, created, changed, dropped or purged."""
    if class_name in INTERNAL_CLASSES:
        raise InternalClass(f"internal.class: {class_name} is Ballast's own; it changes only through its service, "
                            "never through the Parse API (not even with the master key).")
