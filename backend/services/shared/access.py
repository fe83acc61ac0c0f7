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
from backend.services.shared.internal import INTERNAL_CLASSES, SECRET_CLASSES, refuse_internal
from backend.storage.protocols import ClassSchema, Row

Operation = Literal["get", "find", "count", "create", "update", "delete", "addField"]
ACL_NAME_MAX = 256
_MASTER_ONLY_ON_INSTALLATIONS = frozenset({"find", "count", "delete"})
# classes only the master key reaches through the Parse API, as in Parse Server 9 (_Hooks is internal here)
MASTER_ONLY_CLASSES = frozenset({"_Audience", "_JobStatus", "_JobSchedule", "_PushStatus", "_GlobalConfig",
                                 "_GraphQLConfig", "_Idempotency"})


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


READ_OPERATIONS = ("get", "find", "count")


def require_internal(principal: Principal, class_name: str, operation: Operation) -> None:
    """Internal classes change only through their services; those holding secrets are not even read."""
    if principal.internal or class_name not in INTERNAL_CLASSES:
        return
    if operation in ("create", "update", "delete", "addField") or class_name in SECRET_CLASSES:
        refuse_internal(class_name)


def require_class(principal: Principal, schema: ClassSchema, operation: Operation) -> None:
    """The class-level permission for ``operation``; master passes, read-only master only reads.

    Mirrors parse-server's SchemaController.validatePermission: a matching name passes;
    ``requiresAuthentication`` passes any logged-in user (101 otherwise); pointer permissions
    pass here and become a row filter (``user_fields``); anything else is 119.
    Ballast's internal classes come first: only their own services touch them (``require_internal``).
    """
    require_internal(principal, schema.class_name, operation)
    if principal.is_master:
        if principal.is_read_only and operation in ("create", "update", "delete", "addField"):
            raise OperationForbidden("read-only masterKey isn't allowed to perform the " + operation + " operation.")
        return
    if schema.class_name in MASTER_ONLY_CLASSES:
        # Parse 9's classesWithMasterOnlyAccess: push audiences, job runs and schedules, server state
        verb = "find" if operation == "count" else operation
        raise OperationForbidden(f"Clients aren't allowed to perform the {verb} operation on the "
                                 f"{schema.class_name} collection.")
    if schema.class_name == "_Installation" and operation in _MASTER_ONLY_ON_INSTALLATIONS:
        # every device's token and channels: listing or deleting them is for the server alone, as in Parse 9
        verb = "delete" if operation == "delete" else "find"
        raise OperationForbidden(f"Clients aren't allowed to perform the {verb} operation on the installation "
                                 "collection.")
    clp = schema.class_level_permissions
    rule = clp.get(operation)
    if not isinstance(rule, Mapping) or _names_allow(rule, principal):
        return
    if rule.get("requiresAuthentication"):
        if principal.user_id is None:
            raise ObjectNotFound("Permission denied, user needs to be authenticated.")
        return
    if operation != "create" and _pointer_fields(clp, rule, operation):
        return
    raise OperationForbidden(f"Permission denied for action {operation} on class {schema.class_name}.")


def _names_allow(rule: Mapping[str, Any], principal: Principal) -> bool:
    return any(rule.get(name) is True for name in principal.acl_names())


def _pointer_fields(clp: Mapping[str, Any], rule: Mapping[str, Any], operation: str) -> tuple[str, ...]:
    group = clp.get("readUserFields" if operation in READ_OPERATIONS else "writeUserFields")
    fields = [*(rule.get("pointerFields") or []), *(group if isinstance(group, list) else [])]
    return tuple(dict.fromkeys(name for name in fields if isinstance(name, str)))


def user_fields(principal: Principal, schema: ClassSchema, operation: Operation) -> tuple[str, ...] | None:
    """Pointer permissions that apply: rows must have one of these fields pointing to the user.

    None when the class-level permission already grants the operation outright. An anonymous
    principal subject to pointer permissions gets an empty tuple: it matches no row.
    """
    if principal.is_master:
        return None
    clp = schema.class_level_permissions
    rule = clp.get(operation)
    if not isinstance(rule, Mapping) or _names_allow(rule, principal):
        return None
    if rule.get("requiresAuthentication") and principal.user_id is not None:
        return None
    fields = _pointer_fields(clp, rule, operation)
    if not fields:
        return None
    return fields if principal.user_id is not None else ()


def user_fields_where(fields: tuple[str, ...], user_id: str | None) -> dict[str, Any]:
    """The ``where`` (wire JSON) a pointer-permission row filter adds: one of the fields is the user."""
    if not fields or user_id is None:
        return {"objectId": {"$in": []}}
    pointer = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    clauses = [{name: pointer} for name in fields]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def row_points_to(row: Mapping[str, Any], fields: tuple[str, ...], user_id: str | None) -> bool:
    """True when one of ``fields`` of the row (a Pointer, or an array of them) is the user."""
    if user_id is None:
        return False
    return any(_is_user(row.get(name), user_id) for name in fields)


def _is_user(value: Any, user_id: str) -> bool:
    if isinstance(value, list):
        return any(_is_user(item, user_id) for item in value)
    if isinstance(value, Mapping):
        return value.get("objectId") == user_id and value.get("className", "_User") == "_User"
    return getattr(value, "object_id", None) == user_id and getattr(value, "class_name", "_User") == "_User"


def require_row(principal: Principal, schema: ClassSchema, operation: Operation, row: Row) -> None:
    """A fetched row under the pointer permissions of ``operation``: absent (101) when they exclude it."""
    fields = user_fields(principal, schema, operation)
    if fields is not None and not row_points_to(row, fields, principal.user_id):
        raise ObjectNotFound("Object not found.")


def can_see(principal: Principal, schema: ClassSchema, row: Row) -> bool:
    """May ``principal`` read this row (class ``find`` permission, pointer permissions, ACL)?

    The one question LiveQuery asks per event and subscriber; pure, so it is cheap.
    """
    try:
        require_class(principal, schema, "find")
    except (OperationForbidden, ObjectNotFound):
        return False
    fields = user_fields(principal, schema, "find")
    if fields is not None and not row_points_to(row, fields, principal.user_id):
        return False
    return can_read(principal, row)


# Parse Server's default: other users never see a user's email (options.protectedFields)
DEFAULT_PROTECTED: Mapping[str, Mapping[str, list[str]]] = {"_User": {"*": ["email"]}}


def may_protect(principal: Principal, schema: ClassSchema) -> bool:
    """False when ``protected_fields`` is empty for every row of the class: a master, or no field named anywhere
    (the default CLP's ``{"*": []}`` too). A read asks once, not per object."""
    if principal.is_master:
        return False
    configured = schema.class_level_permissions.get("protectedFields")
    return schema.class_name in DEFAULT_PROTECTED or (isinstance(configured, Mapping) and any(configured.values()))


def protected_fields(principal: Principal, schema: ClassSchema, row: Mapping[str, Any]) -> frozenset[str]:
    """Fields of ``row`` this principal must not see, after parse-server's addProtectedFields and
    filterSensitiveData: the lists of every group the principal is in are intersected.
    """
    if not may_protect(principal, schema):
        return frozenset()
    own_user = schema.class_name == "_User" and principal.user_id is not None and row.get("objectId") == (
        principal.user_id)
    if own_user:
        return frozenset()
    rules = _protected_rules(schema)
    sets: list[frozenset[str]] = []
    for key, names in rules.items():
        if key == "*" or (principal.user_id is not None and (
                key == "authenticated" or key in principal.acl_names())):
            sets.append(frozenset(names))
    base = frozenset.intersection(*sets) if sets else None
    pointer_sets = [
        frozenset(names) for key, names in rules.items()
        if key.startswith("userField:") and row_points_to(row, (key[len("userField:"):],), principal.user_id)
    ]
    if pointer_sets:
        hidden = frozenset.intersection(*pointer_sets, *([base] if base is not None else []))
    else:
        hidden = base or frozenset()
    if schema.class_name == "_User":
        hidden |= {"authData"}  # parse-server removes other users' authData whatever the CLP says
    return hidden


def _protected_rules(schema: ClassSchema) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_PROTECTED.get(schema.class_name, {}).items()}
    configured = schema.class_level_permissions.get("protectedFields")
    if isinstance(configured, Mapping):
        for key, names in configured.items():
            if isinstance(key, str) and isinstance(names, list):
                merged = rules.get(key, [])
                rules[key] = merged + [n for n in names if isinstance(n, str) and n not in merged]
    return rules


def names_compared(schema: ClassSchema, operation: Operation) -> frozenset[str] | None:
    """Every name that ``require_class``, ``user_fields`` and ``protected_fields`` compare a principal's ACL
    names with for ``operation`` on this class (besides whether it is master, internal, signed in); None when
    an answer can also hinge on the user's id equalling a value of the row (pointer permissions,
    ``userField:`` protected fields, a user's own _User row). A caller asking these questions for many
    principals at once (LiveQuery) may group principals that agree on these names."""
    if schema.class_name == "_User":
        return None
    clp = schema.class_level_permissions
    names: set[str] = set()
    rule = clp.get(operation)
    if isinstance(rule, Mapping):
        if _pointer_fields(clp, rule, operation):
            return None
        names.update(key for key in rule if isinstance(key, str))
    for key in _protected_rules(schema):
        if key.startswith("userField:"):
            return None
        names.add(key)
    return frozenset(names)


def strip_protected(principal: Principal, schema: ClassSchema, obj: dict[str, Any]) -> dict[str, Any]:
    """Remove the protected fields from a rendered object (or a row); returns it."""
    for name in protected_fields(principal, schema, obj):
        obj.pop(name, None)
    return obj
