"""Every class and field a query touches is read-checked, at any depth (issue 14), over REST on both engines.

Each exploit found from outside is here as an attacker would send it: through find (GET and the JS
SDK's tunnelled POST), count and batch; it must be refused as a top-level find of that class by the
same principal is, or reveal only what such a find would.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import APP_ID

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": "test-master-key"}
ANON_ID = "1f7c2b-anon"


def as_user(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


async def find(client: httpx.AsyncClient, class_name: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    query = {key: json.dumps(value) if key == "where" else value for key, value in params.items()}
    return await client.get(f"/classes/{class_name}", params=query, headers=headers)


async def faces(client: httpx.AsyncClient, class_name: str, headers: dict[str, str],
                where: dict[str, Any], **more: Any) -> list[tuple[str, int, Any]]:
    """The same query through find, count, the JS SDK's tunnelled POST and batch: (face, status, body)."""
    answers = []
    response = await find(client, class_name, headers, where=where, **more)
    answers.append(("find", response.status_code, response.json()))
    response = await find(client, class_name, headers, where=where, count=1, limit=0, **more)
    answers.append(("count", response.status_code, response.json()))
    payload = {"_method": "GET", "_ApplicationId": APP_ID, "where": where, **more}
    if "X-Parse-Session-Token" in headers:
        payload["_SessionToken"] = headers["X-Parse-Session-Token"]
    response = await client.post(f"/classes/{class_name}", content=json.dumps(payload),
                                 headers={"content-type": "text/plain"})
    answers.append(("tunnelled", response.status_code, response.json()))
    batch = {"requests": [{"method": "GET", "path": f"/parse/classes/{class_name}", "body": {"where": where, **more}}]}
    response = await client.post("/batch", json=batch, headers=headers)
    answer = response.json()[0]
    answers.append(("batch", 400 if "error" in answer else 200, answer.get("error", answer.get("success"))))
    return answers


def assert_refused(answers: list[tuple[str, int, Any]], code: int = 119) -> None:
    for face, status, body in answers:
        assert status == 400, (face, body)
        assert body["code"] == code, (face, body)


@pytest.fixture
async def world(client: httpx.AsyncClient) -> dict[str, Any]:
    """An anonymous user, two named users with emails, a Customer class behind a CLP with a protected field."""
    anon = await client.post("/users", json={"authData": {"anonymous": {"id": ANON_ID}}}, headers=H)
    assert anon.status_code == 201, anon.text
    users = {}
    for name in ("alice", "bob"):
        made = await client.post("/users", json={"username": name, "password": "pw-1234",
                                                 "email": f"{name}@example.com"}, headers=H)
        users[name] = made.json()
    for name, email in (("c1", "secret-1@corp.example"), ("c2", "other@corp.example")):
        await client.post("/classes/Customer", json={"name": name, "email": email}, headers=M)
    await client.post("/classes/Note", json={"text": "hello"}, headers=M)
    await client.put("/schemas/Customer", json={"classLevelPermissions": {
        "find": {"role:Staff": True}, "get": {"role:Staff": True}, "count": {"role:Staff": True},
        "create": {}, "update": {}, "delete": {}, "addField": {}, "protectedFields": {"*": ["email"]},
    }}, headers=M)
    return {"anon": anon.json(), **users}


async def test_anonymous_auth_data_oracle_through_select_is_refused(client: httpx.AsyncClient,
                                                                     world: dict[str, Any]) -> None:
    where = {"objectId": {"$select": {"query": {"className": "_User",
                                                "where": {"authData.anonymous.id": {"$regex": "^1"}}},
                                      "key": "objectId"}}}
    assert_refused(await faces(client, "Note", H, where))
    assert_refused(await faces(client, "Note", as_user(world["bob"]["sessionToken"]), where))
    # the top-level find of the same class by the same principal is refused the same way
    top = await find(client, "_User", H, where={"authData.anonymous.id": {"$regex": "^1"}})
    assert top.status_code == 400 and top.json()["code"] == 119


@pytest.mark.parametrize("operator", ["$inQuery", "$notInQuery"])
async def test_sub_query_on_a_class_the_principal_may_not_find_is_refused(
        client: httpx.AsyncClient, world: dict[str, Any], operator: str) -> None:
    where = {"owner": {operator: {"className": "Customer", "where": {"name": "c1"}}}}
    assert_refused(await faces(client, "Note", H, where))
    assert_refused(await faces(client, "Note", as_user(world["alice"]["sessionToken"]), where))


@pytest.mark.parametrize("key", ["$select", "$dontSelect"])
async def test_select_reaching_a_protected_email_is_refused(client: httpx.AsyncClient, world: dict[str, Any],
                                                            key: str) -> None:
    by_where = {"text": {key: {"query": {"className": "_User", "where": {"email": {"$regex": "^alice"}}},
                               "key": "username"}}}
    by_key = {"text": {key: {"query": {"className": "_User", "where": {}}, "key": "email"}}}
    token = world["bob"]["sessionToken"]
    for where in (by_where, by_key):
        assert_refused(await faces(client, "Note", H, where))
        assert_refused(await faces(client, "Note", as_user(token), where))


async def test_protected_field_is_refused_at_every_depth(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    await client.put("/schemas/Customer", json={"classLevelPermissions": {
        "find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {}, "update": {}, "delete": {},
        "addField": {}, "protectedFields": {"*": ["email"]}}}, headers=M)
    deep: dict[str, Any] = {"email": {"$regex": "^secret"}}
    for _ in range(4):  # $or, $and, $nor and sub-queries nested inside one another
        deep = {"$or": [{"owner": {"$inQuery": {"className": "Customer", "where": deep}}}, {"text": "x"}]}
    assert_refused(await faces(client, "Note", H, deep))
    # what a top-level find of Customer may filter by still works inside a sub-query
    fine = {"owner": {"$inQuery": {"className": "Customer", "where": {"name": "c1"}}}}
    for face, status, body in await faces(client, "Note", H, fine):
        assert status == 200, (face, body)


@pytest.mark.parametrize("order", [" email", "email", "-email", "username, email", "  -email"])
async def test_order_by_a_protected_field_is_refused_however_it_is_spelt(
        client: httpx.AsyncClient, world: dict[str, Any], order: str) -> None:
    response = await find(client, "_User", H, order=order)
    assert response.status_code == 400 and response.json()["code"] == 119, response.text
    own = as_user(world["alice"]["sessionToken"])
    response = await find(client, "_User", own, order=order)
    assert response.status_code == 400 and response.json()["code"] == 119, response.text
    assert (await find(client, "_User", M, order=order)).status_code == 200


async def test_master_only_classes_are_refused_in_sub_queries(client: httpx.AsyncClient,
                                                              world: dict[str, Any]) -> None:
    await client.post("/classes/Vault", json={"code": "1234"}, headers=M)
    await client.put("/schemas/Vault", json={"classLevelPermissions": {
        op: {} for op in ("find", "get", "count", "create", "update", "delete", "addField")}}, headers=M)
    for operator in ("$select", "$dontSelect"):
        where = {"text": {operator: {"query": {"className": "Vault", "where": {"code": {"$regex": "^1"}}},
                                     "key": "objectId"}}}
        assert_refused(await faces(client, "Note", H, where))
        assert_refused(await faces(client, "Note", as_user(world["alice"]["sessionToken"]), where))
    related = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Vault", "objectId": "x"}, "key": "k"}}
    assert_refused(await faces(client, "Note", H, related))


async def test_pointer_permissions_narrow_a_sub_query(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice, bob = world["alice"], world["bob"]
    for user, label in ((alice, "a"), (bob, "b")):
        pointer = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
        made = await client.post("/classes/Inbox", json={"owner": pointer, "label": label}, headers=M)
        await client.post("/classes/Note", json={"text": label, "box": {
            "__type": "Pointer", "className": "Inbox", "objectId": made.json()["objectId"]}}, headers=M)
    await client.put("/schemas/Inbox", json={"classLevelPermissions": {
        "find": {"pointerFields": ["owner"]}, "get": {"pointerFields": ["owner"]}, "count": {},
        "create": {}, "update": {}, "delete": {}, "addField": {}}}, headers=M)
    where = {"box": {"$inQuery": {"className": "Inbox", "where": {"label": {"$in": ["a", "b"]}}}}}
    found = await find(client, "Note", as_user(bob["sessionToken"]), where=where)
    assert [note["text"] for note in found.json()["results"]] == ["b"]
    top = await find(client, "Inbox", as_user(bob["sessionToken"]))
    assert [box["label"] for box in top.json()["results"]] == ["b"]
    assert (await find(client, "Note", H, where=where)).json()["results"] == []


async def test_include_of_a_class_the_principal_may_not_get_stays_a_pointer(
        client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    customers = (await find(client, "Customer", M, where={"name": "c1"})).json()["results"]
    pointer = {"__type": "Pointer", "className": "Customer", "objectId": customers[0]["objectId"]}
    await client.post("/classes/Order", json={"customer": pointer}, headers=M)
    found = (await find(client, "Order", H, include="customer")).json()["results"]
    assert found[0]["customer"] == pointer


async def test_cloud_code_req_db_queries_as_the_caller_get_the_same_check(client: httpx.AsyncClient,
                                                                         world: dict[str, Any]) -> None:
    made = await client.post("/classes/CloudReview", json={"movie": world["anon"]["objectId"], "text": "good"},
                             headers=M)
    assert made.status_code == 201, made.text
    probe = {"$select": {"query": {"className": "_User", "where": {"authData.anonymous.id": {"$regex": "^1"}}},
                         "key": "objectId"}}
    for headers in (H, as_user(world["bob"]["sessionToken"])):
        answer = await client.post("/functions/countReviews", json={"movie": probe}, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == 119, answer.text
    # the master key may (as with a top-level find)
    assert (await client.post("/functions/countReviews", json={"movie": probe}, headers=M)).json() == {"result": 1}
