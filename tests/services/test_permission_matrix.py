"""The permission matrix: every operation x every kind of principal x ACL/CLP variants, on both engines.

Operations: get, find, count, create, update, delete and ``can_see`` (what LiveQuery asks per event).
Principals: anonymous, the owner, another user, a role member, a member of a child role (inherits
the role), master, read-only master. Each cell states the expected outcome; a refused read must
leave nothing behind (101/119, absent from find, not counted), a refused write changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI

from backend.context import ANONYMOUS, MASTER, READ_ONLY_MASTER, Principal, RequestContext
from backend.errors import ParseError
from backend.services.data.objects import FindOptions
from backend.services.shared import access
from backend.services.wiring import Services

PRINCIPALS = ("anonymous", "owner", "other", "member", "child", "master", "readonly")
USERS = ("owner", "other", "member", "child")
EVERYONE = frozenset(PRINCIPALS)
MASTERS = frozenset({"master", "readonly"})
EDITORS = frozenset({"member", "child"})
WRITERS_MASTER = frozenset({"master"})
OPEN_CLP_OPS = ("get", "find", "count", "create", "update", "delete", "addField")


@dataclass(frozen=True)
class Variant:
    name: str
    acl: dict[str, Any] | None  # None: no ACL (public)
    clp: dict[str, Any] = field(default_factory=dict)
    read: frozenset[str] = EVERYONE
    write: frozenset[str] = EVERYONE - {"readonly"}
    create: frozenset[str] = EVERYONE - {"readonly"}
    sees_secret: frozenset[str] | None = None  # protectedFields variants: who sees 'secret'


def owner_acl(read: list[str], write: list[str]) -> dict[str, Any]:
    acl: dict[str, Any] = {}
    for name in read:
        acl.setdefault(name, {})["read"] = True
    for name in write:
        acl.setdefault(name, {})["write"] = True
    return acl


def clp(**rules: Any) -> dict[str, Any]:
    base: dict[str, Any] = {op: {"*": True} for op in OPEN_CLP_OPS}
    return base | rules


VARIANTS = [
    Variant("public", None),
    Variant("owner_only", owner_acl(["OWNER"], ["OWNER"]), read=MASTERS | {"owner"},
            write=WRITERS_MASTER | {"owner"}),
    Variant("role_read_owner_write", owner_acl(["role:Editors", "OWNER"], ["OWNER"]),
            read=MASTERS | EDITORS | {"owner"}, write=WRITERS_MASTER | {"owner"}),
    Variant("public_read_role_write", owner_acl(["*"], ["role:Editors"]), write=WRITERS_MASTER | EDITORS),
    Variant("child_role_only", owner_acl(["role:Juniors"], ["role:Juniors"]), read=MASTERS | {"child"},
            write=WRITERS_MASTER | {"child"}),
    Variant("no_one", owner_acl([], []), read=MASTERS, write=WRITERS_MASTER),
    Variant("clp_requires_auth", None,
            clp(**{op: {"requiresAuthentication": True} for op in ("get", "find", "count", "create", "update",
                                                                     "delete")}),
            read=EVERYONE - {"anonymous"}, write=EVERYONE - {"anonymous", "readonly"},
            create=EVERYONE - {"anonymous", "readonly"}),
    Variant("clp_editors_only", None,
            clp(**{op: {"role:Editors": True} for op in ("get", "find", "count", "create", "update", "delete")}),
            read=MASTERS | EDITORS, write=WRITERS_MASTER | EDITORS, create=WRITERS_MASTER | EDITORS),
    Variant("clp_read_only_class", None, clp(create={}, update={}, delete={}),
            write=WRITERS_MASTER, create=WRITERS_MASTER),
    Variant("clp_pointer_owner", None,
            clp(get={}, find={}, count={}, update={}, delete={}, readUserFields=["owner"],
                writeUserFields=["owner"]),
            read=MASTERS | {"owner"}, write=WRITERS_MASTER | {"owner"}),
    Variant("clp_pointer_and_acl", owner_acl(["OWNER", "role:Editors"], ["OWNER"]),
            clp(find={"pointerFields": ["owner"]}, get={"pointerFields": ["owner"]},
                count={"pointerFields": ["owner"]}),
            read=MASTERS | {"owner"}, write=WRITERS_MASTER | {"owner"}),
    Variant("protected_secret", None, clp(protectedFields={"*": ["secret"], "role:Editors": []}),
            sees_secret=MASTERS | EDITORS),
    Variant("protected_owner_field", None, clp(protectedFields={"*": ["secret"], "userField:owner": []}),
            sees_secret=MASTERS | {"owner"}),
    Variant("protected_authenticated", None, clp(protectedFields={"*": ["secret"], "authenticated": []}),
            sees_secret=EVERYONE - {"anonymous"}),
]


async def sign_up(services: Services, name: str) -> tuple[str, Principal]:
    login = await services.identity.accounts.sign_up(RequestContext(ANONYMOUS),
                                                     {"username": name, "password": f"pw-{name}"})
    token = login.user["sessionToken"]
    principal = await services.sessions.principal_for(token)
    assert principal is not None
    return login.user["objectId"], principal


async def build_world(services: Services) -> tuple[dict[str, str], dict[str, RequestContext]]:
    """Users, and roles Editors <- Juniors (Juniors' members inherit Editors)."""
    system = RequestContext.system()
    ids: dict[str, str] = {}
    for name in USERS:
        ids[name], _ = await sign_up(services, name)
    objects = services.objects
    juniors = await objects.create(system, "_Role", {
        "name": "Juniors", "ACL": {"*": {"read": True}},
        "users": {"__op": "AddRelation", "objects": [_user(ids["child"])]}})
    await objects.create(system, "_Role", {
        "name": "Editors", "ACL": {"*": {"read": True}},
        "users": {"__op": "AddRelation", "objects": [_user(ids["member"])]},
        "roles": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_Role",
                                                       "objectId": juniors["objectId"]}]}})
    contexts = {"anonymous": RequestContext(ANONYMOUS), "master": RequestContext(MASTER),
                "readonly": RequestContext(READ_ONLY_MASTER)}
    for name in USERS:  # a fresh log-in resolves the roles as they are now
        login = await services.identity.accounts.log_in(RequestContext(ANONYMOUS), name, None, f"pw-{name}")
        principal = await services.sessions.principal_for(login.user["sessionToken"])
        assert principal is not None
        contexts[name] = RequestContext(principal)
    return ids, contexts


def _user(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


async def make_object(services: Services, class_name: str, variant: Variant, owner: str) -> str:
    data: dict[str, Any] = {"secret": "s3cret", "n": 0, "owner": _user(owner)}
    if variant.acl is not None:
        data["ACL"] = {(owner if name == "OWNER" else name): grants for name, grants in variant.acl.items()}
    saved = await services.objects.create(RequestContext.system(), class_name, data)
    return str(saved["objectId"])


async def outcome(call: Any) -> tuple[bool, Any]:
    try:
        return True, await call
    except ParseError as error:
        assert error.code in (101, 105, 119, 209), f"unexpected refusal {error.code}: {error.message}"
        return False, None


async def check_cell(services: Services, variant: Variant, class_name: str, who: str, ctx: RequestContext,
                     ids: dict[str, str]) -> list[str]:
    objects = services.objects
    wrong: list[str] = []
    expect_read = who in variant.read
    object_id = await make_object(services, class_name, variant, ids["owner"])
    ok, got = await outcome(objects.get(ctx, class_name, object_id))
    if ok != expect_read:
        wrong.append(f"get={ok}")
    if ok and variant.sees_secret is not None and ("secret" in got) != (who in variant.sees_secret):
        wrong.append(f"secret visible={'secret' in got}")
    ok, found = await outcome(objects.find(ctx, class_name, FindOptions(where={"objectId": object_id})))
    listed = bool(ok and found.results)
    if listed != expect_read:
        wrong.append(f"find={listed}")
    ok, counted = await outcome(objects.find(ctx, class_name, FindOptions(where={"objectId": object_id}, limit=0,
                                                                            count=True)))
    if (ok and counted.count == 1) != expect_read or (ok and counted.count not in (0, 1)):
        wrong.append(f"count={counted.count if ok else 'refused'}")
    async with services.db.unit(read_only=True) as unit:
        schema = await services.schemas.require(unit, class_name)
        row = (await unit.session.find(schema, _by_id(object_id)))[0]
    if access.can_see(ctx.principal, schema, row) != expect_read:
        wrong.append(f"can_see={not expect_read}")
    ok, _ = await outcome(objects.update(ctx, class_name, object_id, {"n": 1}))
    if ok != (who in variant.write):
        wrong.append(f"update={ok}")
    after = await objects.get(RequestContext.system(), class_name, object_id)
    if after["n"] != (1 if who in variant.write else 0):
        wrong.append("a refused update changed the object")
    ok, _ = await outcome(objects.delete(ctx, class_name, object_id))
    if ok != (who in variant.write):
        wrong.append(f"delete={ok}")
    ok, _ = await outcome(objects.create(ctx, class_name, {"n": 5}))
    if ok != (who in variant.create):
        wrong.append(f"create={ok}")
    return wrong


def _by_id(object_id: str) -> Any:
    from backend import querytree as q

    return q.FindSpec(q.Compare(q.Field(("objectId",), "String"), "eq", object_id), limit=1)


async def test_permission_matrix_has_no_failing_cell(app: FastAPI) -> None:
    services: Services = app.state.services
    ids, contexts = await build_world(services)
    assert contexts["child"].principal.roles == {"Editors", "Juniors"}
    assert contexts["member"].principal.roles == {"Editors"}
    failures: list[str] = []
    for number, variant in enumerate(VARIANTS):
        class_name = f"Matrix{number}"
        async with services.db.unit() as unit:
            await services.schemas.create_class(unit, class_name, {
                "fields": {"secret": {"type": "String"}, "n": {"type": "Number"},
                           "owner": {"type": "Pointer", "targetClass": "_User"}},
                **({"classLevelPermissions": variant.clp} if variant.clp else {}),
            })
        for who in PRINCIPALS:
            for problem in await check_cell(services, variant, class_name, who, contexts[who], ids):
                failures.append(f"{variant.name} x {who}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("who", ["anonymous", "other"])
async def test_a_query_cannot_probe_a_protected_or_hidden_field(app: FastAPI, who: str) -> None:
    services: Services = app.state.services
    ids, contexts = await build_world(services)
    ctx = contexts[who]
    for where in ({"email": "x@example.com"}, {"$or": [{"email": {"$exists": True}}]},
                  {"_hashed_password": {"$regex": "^\\$2"}}, {"authData.anonymous.id": "x"}):
        ok, _ = await outcome(services.objects.find(ctx, "_User", FindOptions(where=where)))
        assert not ok, where
