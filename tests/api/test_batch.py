"""/batch on both engines: per-request answers, transactions that roll back, and envelope errors."""

from __future__ import annotations

import json
from typing import Any

import httpx


def _create(cls: str, body: dict[str, object]) -> dict[str, object]:
    return {"method": "POST", "path": f"/parse/classes/{cls}", "body": body}


async def _keys(client: httpx.AsyncClient, headers: dict[str, str], cls: str) -> list[object]:
    response = await client.get(f"/classes/{cls}", params={"order": "key"}, headers=headers)
    return [row.get("key") for row in response.json()["results"]]


async def test_batch_answers_each_sub_request_in_order(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    first = (await client.post("/classes/B", json={"key": "a"}, headers=headers)).json()
    requests = [
        _create("B", {"key": "b"}),
        {"method": "PUT", "path": f"/parse/classes/B/{first['objectId']}",
         "body": {"n": {"__op": "Increment", "amount": 2}}},
        {"method": "GET", "path": "/parse/classes/B", "body": {"where": {"key": "a"}}},
        {"method": "DELETE", "path": "/parse/classes/B/nosuchid00"},
        {"method": "PATCH", "path": "/parse/classes/B"},
    ]
    response = await client.post("/batch", json={"requests": requests}, headers=headers)
    assert response.status_code == 200
    results = response.json()
    assert set(results[0]["success"]) == {"objectId", "createdAt"}
    assert results[1]["success"]["n"] == 2
    assert [row["key"] for row in results[2]["success"]["results"]] == ["a"]
    assert results[3] == {"error": {"code": 101, "error": "Object not found."}}
    assert results[4]["error"]["code"] == 107
    assert await _keys(client, headers, "B") == ["a", "b"]


async def test_transaction_failure_rolls_back_every_write(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await client.post("/classes/T", json={"key": "seed"}, headers=headers)
    requests = [_create("T", {"key": "one"}), _create("T", {"key": 10}), _create("T", {"key": "three"})]
    response = await client.post("/batch", json={"requests": requests, "transaction": True}, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == 111
    assert await _keys(client, headers, "T") == ["seed"]


async def test_transaction_success_commits_all(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    requests = [_create("Tx", {"key": "a"}), _create("Tx", {"key": "b"})]
    response = await client.post("/batch", json={"requests": requests, "transaction": True}, headers=headers)
    assert response.status_code == 200
    assert all("success" in result for result in response.json())
    assert await _keys(client, headers, "Tx") == ["a", "b"]


async def test_transaction_that_created_a_class_leaves_no_class(client: httpx.AsyncClient, headers: dict[str, str],
                                                                master_headers: dict[str, str]) -> None:
    requests = [_create("Fresh", {"key": "a"}), {"method": "DELETE", "path": "/parse/classes/Fresh/missing000"}]
    response = await client.post("/batch", json={"requests": requests, "transaction": True}, headers=headers)
    assert response.status_code == 404
    assert (await client.get("/schemas/Fresh", headers=master_headers)).json()["code"] == 103
    assert (await client.get("/classes/Fresh", headers=headers)).json() == {"results": []}


async def test_envelope_errors_are_107(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    nested = {"method": "POST", "path": "/parse/batch", "body": {}}
    elsewhere = {"method": "GET", "path": "/elsewhere/classes/X"}
    cases = [
        ({"requests": "nope"}, "requests must be an array"),
        ({"requests": [{"method": "GET"}]}, "batch request path must be a string"),
        ({"requests": [_create("X", {})] * 51},
         "Batch request contains 51 sub-requests, which exceeds the limit of 50."),
        ({"requests": [nested]}, "nested batch requests are not allowed"),
        ({"requests": [elsewhere]}, "cannot route batch path /elsewhere/classes/X"),
    ]
    for body, message in cases:
        response = await client.post("/batch", content=json.dumps(body), headers=headers)
        assert response.status_code == 400, body
        assert response.json() == {"code": 107, "error": message}
    assert (await client.get("/classes/X", headers=headers)).json() == {"results": []}


async def test_batch_routes_the_user_role_session_and_installation_paths(
        client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str]) -> None:
    """Parse's batch reaches every REST route; the JS SDK's saveAll of users sends PUT /parse/users/<id>."""
    user = (await client.post("/users", json={"username": "ann", "password": "pw-ann-1"}, headers=headers)).json()
    own = {**headers, "X-Parse-Session-Token": user["sessionToken"]}
    requests: list[dict[str, Any]] = [
        {"method": "PUT", "path": f"/parse/users/{user['objectId']}", "body": {"nick": "A"}},
        {"method": "GET", "path": f"/parse/users/{user['objectId']}"},
        {"method": "POST", "path": "/parse/users", "body": {"username": "bob", "password": "pw-bob-1"}},
        {"method": "POST", "path": "/parse/users", "body": {"username": "ann", "password": "pw-ann-2"}},
        {"method": "GET", "path": "/parse/sessions"},
        {"method": "POST", "path": "/parse/installations",
         "body": {"installationId": "b7a3c2e0-5d1f-4e4b-9a7c-0d2e3f4a5b6c", "deviceType": "ios"}},
        {"method": "GET", "path": "/parse/installations/{id}"},
        {"method": "GET", "path": "/parse/installations"},
    ]
    results = (await client.post("/batch", json={"requests": requests[:6]}, headers=own)).json()
    installation = results[5]["success"]["objectId"]
    reads = [{**request, "path": request["path"].replace("{id}", installation)} for request in requests[6:]]
    results += (await client.post("/batch", json={"requests": reads}, headers=own)).json()
    assert "updatedAt" in results[0]["success"]
    assert results[1]["success"]["nick"] == "A"
    assert results[1]["success"]["sessionToken"] == user["sessionToken"]  # the caller's own user, as REST
    assert results[2]["success"]["sessionToken"].startswith("r:")  # a sign-up, with its session
    assert results[3] == {"error": {"code": 202, "error": "Account already exists for this username."}}
    assert [s["user"]["objectId"] for s in results[4]["success"]["results"]] == [user["objectId"]]
    assert "objectId" in results[5]["success"]
    assert results[6]["success"] == (await client.get(f"/installations/{installation}", headers=own)).json()
    assert results[7] == {"error": {"code": 119, "error": "Clients aren't allowed to perform the find operation "
                                                          "on the installation collection."}}  # as REST, as Parse
    login = await client.post("/login", json={"username": "bob", "password": "pw-bob-1"}, headers=headers)
    assert login.status_code == 200


async def test_batch_role_writes_and_session_revocation(client: httpx.AsyncClient, headers: dict[str, str],
                                                        master_headers: dict[str, str]) -> None:
    user = (await client.post("/users", json={"username": "cy", "password": "pw-cy-1"}, headers=headers)).json()
    own = {**headers, "X-Parse-Session-Token": user["sessionToken"]}
    session = (await client.get("/sessions/me", headers=own)).json()
    role = {"name": "Editors", "ACL": {"*": {"read": True}}}
    requests = [{"method": "POST", "path": "/parse/roles", "body": role},
                {"method": "DELETE", "path": f"/parse/sessions/{session['objectId']}"}]
    results = (await client.post("/batch", json={"requests": requests, "transaction": True},
                                 headers={**master_headers})).json()
    assert all("success" in result for result in results)
    role_id = results[0]["success"]["objectId"]
    assert (await client.get(f"/roles/{role_id}", headers=headers)).json()["name"] == "Editors"
    assert (await client.get("/users/me", headers=own)).json()["code"] == 209
    put = [{"method": "PUT", "path": f"/parse/roles/{role_id}", "body": {"extra": 1}},
           {"method": "DELETE", "path": f"/parse/roles/{role_id}"}]
    results = (await client.post("/batch", json={"requests": put}, headers=master_headers)).json()
    assert all("success" in result for result in results)
    assert (await client.get(f"/roles/{role_id}", headers=headers)).status_code == 404
