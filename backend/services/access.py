"""Who may do what: ACLs and class-level permissions (pure; no I/O).

An object's ACL is stored as two arrays, ``_rperm`` and ``_wperm``, of the
names it grants (``*``, user ids, ``role:Name``), as parse-server stores it;
``None`` means no ACL, i.e. public. The master key passes every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from backend.context import Principal
from backend.errors import InvalidACL, ObjectNotFound, OperationForbidden
from backend.storage.protocols import ClassSchema, Row

Operation = Literal["get", "find", "count", "create", "update", "delete", "addField"]
ACL_NAME_MAX = 256


def acl_to_perms(acl: object) -> tuple[list[str], list[str]]:
    """A wire ACL -> (_rperm, _wperm); refuses anything that is not Parse's ACL shape."""
    if not isinstance(acl, dict):
        raise InvalidACL("ACL must be an object.")
    read: list[str] = []
    write: list[str] = []
    for name, grants in acl.items():
        if not isinstance(name, str) or not name or len(name) > ACL_NAME_MAX or "\x00" in name:
            raise InvalidACL(f"Invalid ACL entry name: {str(name)[:64]!r}.")
        if not isinstance(grants, dict) or set(grants) - {"read", "write"}:
            raise InvalidACL(f"ACL entry {name[:64]!r} may only hold read and write.")
        for permission, granted in grants.items():
            if not isinstance(granted, bool):
                raise InvalidACL(f"ACL {permission} for {name[:64]!r} must be true or false.")
            if granted:
                (read if permission == "read" else write).append(name)
    return read, write


def perms_to_acl(rperm: list[str] | None, wperm: list[str] | None) -> dict[str, dict[str, bool]] | None:
    if rperm is None and wperm is None:
        return None
    acl: dict[str, dict[str, bool]] = {}
    for name in rperm or []:
        acl.setdefault(name, {})["read"] = True
    for name in wperm or []:
        acl.setdefault(name, {})["write"] = True
    return acl


def read_names(principal: Principal) -> frozenset[str] | None:
    """The names a row's ``_rperm`` must contain for this principal to see it (None: sees all)."""
    return None if principal.is_master else principal.acl_names()


def can_read(principal: Principal, row: Row) -> bool:
    return principal.is_master or _granted(row.get("_rperm"), principal)


def can_write(principal: Principal, row: Row) -> bool:
    if principal.is_read_only:
        return False
    return principal.kind == "master" or _granted(row.get("_wperm"), principal)


def _granted(perms: list[str] | None, principal: Principal) -> bool:
    return perms is None or not principal.acl_names().isdisjoint(perms)


def require_write(principal: Principal, row: Row) -> None:
    """Parse answers an ACL-forbidden write as 'not found', so ids leak nothing."""
    if not can_write(principal, row):
        raise ObjectNotFound("Object not found.")


def require_class(principal: Principal, schema: ClassSchema, operation: Operation) -> None:
    """The class-level permission for ``operation``; master passes, read-only master only reads."""
    if principal.is_master:
        if principal.is_read_only and operation in ("create", "update", "delete", "addField"):
            raise OperationForbidden("read-only masterKey isn't allowed to perform the " + operation + " operation.")
        return
    rule = schema.class_level_permissions.get(operation)
    if rule is None or _clp_allows(rule, principal):
        return
    raise OperationForbidden(f"Permission denied for action {operation} on class {schema.class_name}.")


def _clp_allows(rule: Mapping[str, Any], principal: Principal) -> bool:
    if rule.get("requiresAuthentication") and principal.user_id is None:
        return False
    names = principal.acl_names()
    if any(rule.get(name) for name in names):
        return True
    # 'pointerFields' grant access per object; the row filter is applied by the identity layer
    return bool(rule.get("pointerFields")) or (bool(rule.get("requiresAuthentication")) and len(rule) == 1)
