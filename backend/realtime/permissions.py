"""What one subscriber may see of one event: CLP (with pointer permissions), ACL, protected fields (pure).

Every rule is ``services.access``'s (the evaluator REST uses); this module only
adapts it to LiveQuery's questions and keeps the per-subscriber path cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from backend.context import Principal
from backend.errors import ObjectNotFound, OperationForbidden
from backend.services.shared import access
from backend.storage.protocols import ClassSchema, Row

ReadOp = Literal["get", "find"]


def clp_operation(where: Mapping[str, Any]) -> ReadOp:
    """Parse checks ``get`` for a query on one objectId, else ``find``."""
    return "get" if len(where) == 1 and isinstance(where.get("objectId"), str) else "find"


def class_allows(principal: Principal, schema: ClassSchema, op: ReadOp) -> bool:
    """The class-level permission alone (checked at subscribe time, and again per event)."""
    try:
        access.require_class(principal, schema, op)
    except (OperationForbidden, ObjectNotFound):
        return False
    return True


def row_allowed(principal: Principal, schema: ClassSchema, op: ReadOp, row: Row) -> bool:
    """CLP for this object: the class rule, then pointer permissions (``readUserFields``/``pointerFields``)."""
    if principal.is_master:
        return True
    if not class_allows(principal, schema, op):
        return False
    fields = access.user_fields(principal, schema, op)
    return fields is None or access.row_points_to(row, fields, principal.user_id)


# Fields no client but the master key gets in a LiveQuery event. Parse Server 9 sends a user their own new
# sessions' tokens; a token read off a socket is a login, so Ballast never sends one (REST /sessions still
# shows the caller's own, as Parse does).
NEVER_LIVE: dict[str, frozenset[str]] = {"_Session": frozenset({"sessionToken"})}


def protected_fields(principal: Principal, schema: ClassSchema, row: Row) -> frozenset[str]:
    """Fields of this object hidden from this principal (``access.protected_fields``; none for master)."""
    if principal.is_master:
        return frozenset()
    return access.protected_fields(principal, schema, row) | NEVER_LIVE.get(schema.class_name, frozenset())


def watches_protected(principal: Principal, schema: ClassSchema, watch: list[str] | None) -> bool:
    """Watching a protected field would reveal when it changes (parse-server refuses with 119)."""
    hidden = protected_fields(principal, schema, {})
    return any(name.split(".")[0] in hidden for name in watch or ())


def readable(principal: Principal, row: Row | None) -> bool:
    """``access.can_read``, with the principal's ACL names computed once (this runs per subscriber per event)."""
    if row is None:
        return False
    if principal.is_master:
        return True
    perms = row.get("_rperm")
    return perms is None or not acl_names(principal).isdisjoint(perms)


@functools.lru_cache(maxsize=4096)
def acl_names(principal: Principal) -> frozenset[str]:
    return principal.acl_names()
