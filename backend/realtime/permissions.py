"""What one subscriber may see of one event: CLP (with pointer permissions), ACL, protected fields (pure).

ACL and the class-level rule come from ``services.access``; the two pieces it
does not have yet (pointer-permission rows and ``protectedFields``) are
evaluated here the way parse-server's LiveQuery does, and should move to
``access`` once the identity layer owns them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from backend import wire
from backend.context import Principal
from backend.errors import OperationForbidden
from backend.services import access
from backend.storage.protocols import ClassSchema, Row

ReadOp = Literal["get", "find"]


def clp_operation(where: Mapping[str, Any]) -> ReadOp:
    """Parse checks ``get`` for a query on one objectId, else ``find``."""
    return "get" if len(where) == 1 and isinstance(where.get("objectId"), str) else "find"


def class_allows(principal: Principal, schema: ClassSchema, op: ReadOp) -> bool:
    """The class-level permission alone (checked at subscribe time, and again per event)."""
    try:
        access.require_class(principal, schema, op)
    except OperationForbidden:
        return False
    return True


def row_allowed(principal: Principal, schema: ClassSchema, op: ReadOp, row: Row) -> bool:
    """CLP for this object: the class rule, then pointer permissions when only they grant access."""
    if principal.is_master:
        return True
    if not class_allows(principal, schema, op):
        return False
    clp = schema.class_level_permissions
    rule = clp.get(op)
    pointer_fields = [*((rule or {}).get("pointerFields") or []), *(clp.get("readUserFields") or [])]
    if not pointer_fields:
        return True
    if rule is None or any(rule.get(name) for name in acl_names(principal)):
        return True
    return principal.user_id is not None and any(_points_to(row.get(name), principal.user_id)
                                                 for name in pointer_fields)


def _points_to(value: object, user_id: str) -> bool:
    if isinstance(value, wire.Pointer):
        return value.object_id == user_id
    if isinstance(value, list):
        return any(_points_to(item, user_id) for item in value)
    return False


def protected_fields(principal: Principal, schema: ClassSchema) -> frozenset[str]:
    """Fields hidden from this principal: the intersection over every protectedFields group it is in."""
    if principal.is_master:
        return frozenset()
    groups = schema.class_level_permissions.get("protectedFields")
    if not isinstance(groups, Mapping) or not groups:
        return frozenset()
    applicable = ["*", *(f"role:{role}" for role in principal.roles)]
    if principal.user_id:
        applicable += [principal.user_id, "authenticated"]
    hidden: set[str] | None = None
    for group in applicable:
        fields = groups.get(group)
        if isinstance(fields, list):
            names = {str(name) for name in fields}
            hidden = names if hidden is None else hidden & names
    return frozenset(hidden or ())


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
