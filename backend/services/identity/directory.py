"""Roles and users as an admin sees them: roles with members and child roles, a user's roles and sessions.

Every read and write goes through ``ObjectService`` with the caller's context, so the role guard, the user
guard (password hashing, sessions ended on a new password) and the security records apply exactly as for the
Parse API; the CLI (``ballast roles``) and the console both use these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.context import RequestContext
from backend.errors import ObjectNotFound
from backend.services.data.objects import FindOptions, ObjectService

ROLE, USER, SESSION = "_Role", "_User", "_Session"
MEMBERS = 200  # members and child roles listed per role: a page shows the start, counts say the rest


@dataclass(frozen=True)
class RoleView:
    """A role, its direct members and the roles whose members inherit it (Parse's ``roles`` relation)."""

    id: str
    name: str
    users: list[dict[str, str]]  # {id, username}
    children: list[dict[str, str]]  # {id, name}


def pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def one(objects: ObjectService, ctx: RequestContext, class_name: str, key: str, value: str) -> dict[str, Any]:
    """The object whose ``key`` is ``value``: 101 when there is none."""
    found = await objects.find(ctx, class_name, FindOptions(where={key: value}, limit=1))
    if not found.results:
        raise ObjectNotFound(f"No {class_name.strip('_').lower()} with {key} {value!r}.")
    return dict(found.results[0])


async def related(objects: ObjectService, ctx: RequestContext, role_id: str, key: str,
                  limit: int = MEMBERS) -> list[dict[str, Any]]:
    """The objects in a role's ``users`` or ``roles`` relation."""
    target = USER if key == "users" else ROLE
    where = {"$relatedTo": {"object": pointer(ROLE, role_id), "key": key}}
    order = "username" if key == "users" else "name"
    return (await objects.find(ctx, target, FindOptions(where=where, limit=limit, order=order))).results


async def roles(objects: ObjectService, ctx: RequestContext, skip: int = 0, limit: int = 50) -> list[RoleView]:
    """A page of roles by name, each with its members and child roles."""
    found = await objects.find(ctx, ROLE, FindOptions(order="name", skip=skip, limit=limit))
    views = []
    for role in found.results:
        users = await related(objects, ctx, role["objectId"], "users")
        children = await related(objects, ctx, role["objectId"], "roles")
        views.append(RoleView(role["objectId"], str(role.get("name")),
                              [{"id": u["objectId"], "username": str(u.get("username"))} for u in users],
                              [{"id": c["objectId"], "name": str(c.get("name"))} for c in children]))
    return views


async def create_role(objects: ObjectService, ctx: RequestContext, name: str, public_read: bool = True) -> str:
    """A new role (the role guard checks the name and records it); answers its id."""
    saved = await objects.create(ctx, ROLE, {"name": name, "ACL": {"*": {"read": True}} if public_read else {}})
    return str(saved["objectId"])


async def change_members(objects: ObjectService, ctx: RequestContext, role_name: str, key: str, name: str,
                         add: bool) -> None:
    """Add or remove a user (``key='users'``, by username) or a child role (``key='roles'``, by name)."""
    role = await one(objects, ctx, ROLE, "name", role_name)
    target = await one(objects, ctx, USER, "username", name) if key == "users" else \
        await one(objects, ctx, ROLE, "name", name)
    op = "AddRelation" if add else "RemoveRelation"
    ptr = pointer(USER if key == "users" else ROLE, target["objectId"])
    await objects.update(ctx, ROLE, role["objectId"], {key: {"__op": op, "objects": [ptr]}})


async def roles_of(objects: ObjectService, ctx: RequestContext, user_id: str) -> list[str]:
    """The roles the user is a direct member of."""
    found = await objects.find(ctx, ROLE, FindOptions(where={"users": pointer(USER, user_id)}, order="name",
                                                      limit=MEMBERS))
    return [str(role.get("name")) for role in found.results]


async def sessions_of(objects: ObjectService, ctx: RequestContext, user_id: str) -> list[dict[str, Any]]:
    """The user's sessions, newest first, without their tokens (an admin ends a session, never uses it)."""
    found = await objects.find(ctx, SESSION, FindOptions(where={"user": pointer(USER, user_id)},
                                                         order="-createdAt", limit=100))
    return [{key: value for key, value in row.items() if key != "sessionToken"} for row in found.results]
