"""What one subscriber may see of one event: CLP (with pointer permissions), ACL, protected fields (pure).

Every rule is ``services.access``'s (the evaluator REST uses); this module only
adapts it to LiveQuery's questions and keeps the per-subscriber path cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


UNNAMED_USER = "\x00"  # a user id no ACL or rule can name: stands in for every user an event's rules do not name


@dataclass(frozen=True, slots=True)
class Audience:
    """The names one event's permission answers (CLP, ACL, protected fields) compare identities with.

    Principals that agree on these names -- same kind, signed in or not, the same named user if any, the same
    named roles -- get the same answers, so one stand-in principal answers for all of them: a fan-out to
    thousands of users decides once per distinct (ACL, roles) outcome, not once per user."""

    names: frozenset[str]
    roles: frozenset[str]  # the role names (without "role:") among ``names``

    def key(self, principal: Principal) -> tuple[Any, ...]:
        user_id = principal.user_id
        user = user_id if user_id in self.names else user_id is not None
        roles = principal.roles & self.roles if principal.roles else principal.roles
        return (principal.kind, principal.internal, user, roles)

    def stand_in(self, principal: Principal) -> Principal:
        """A principal every one with ``principal``'s key answers like (``key`` equal => answers equal)."""
        user_id = principal.user_id
        if user_id is not None and user_id not in self.names:
            user_id = UNNAMED_USER
        return Principal(principal.kind, user_id, principal.roles & self.roles, internal=principal.internal)


def audience(schema: ClassSchema, op: ReadOp, rows: Iterable[Row | None]) -> Audience | None:
    """The names of ``schema``'s rules for ``op`` and of the rows' read ACLs; None when an answer may hinge on a
    user id matching a row's value (then each principal is asked on its own)."""
    compared = access.names_compared(schema, op)
    if compared is None:
        return None
    names = set(compared)
    for row in rows:
        perms = row.get("_rperm") if row is not None else None
        if perms:
            names.update(perms)
    if UNNAMED_USER in names:  # never expected; but a stand-in must not be named by anything
        return None
    return Audience(frozenset(names), frozenset(name[5:] for name in names if name.startswith("role:")))
