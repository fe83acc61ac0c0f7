"""/classes over HTTP on both engines: the wiring, status codes and Parse error bodies."""

from __future__ import annotations

import json

import httpx


async def test_create_answers_201_with_id_location_and_created_at(client: httpx.AsyncClient,
                                                                  headers: dict[str, str]) -> None:
    response = await client.post("/classes/GameScore", json={"score": 1337}, headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"objectId", "createdAt"}
    assert response.headers["location"].endswith(f"/classes/GameScore/{body['objectId']}")


async def test_update_echoes_op_results_and_get_sees_them(client: httpx.AsyncClient,
                                                         headers: dict[str, str]) -> None:
    created = (await client.post("/classes/Item", json={"n": 1, "tags": ["a"]}, headers=headers)).json()
    path = f"/classes/Item/{created['objectId']}"
    update = {"n": {"__op": "Increment", "amount": 2}, "tags": {"__op": "AddUnique", "objects": ["a", "b"]}}
    response = await client.put(path, json=update, headers=headers)
    assert response.status_code == 200
    assert response.json()["n"] == 3 and response.json()["tags"] == ["a", "b"]
    fetched = (await client.get(path, headers=headers)).json()
    assert fetched["n"] == 3 and fetched["tags"] == ["a", "b"]
    assert fetched["updatedAt"] >= fetched["createdAt"]


async def test_query_filters_orders_limits_and_counts(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for score in (5, 1, 9, 3):
        await client.post("/classes/Score", json={"score": score}, headers=headers)
    where = json.dumps({"score": {"$gte": 3}})
    response = await client.get("/classes/Score", params={"where": where, "order": "-score", "limit": 2, "count": 1},
                                headers=headers)
    body = response.json()
    assert [row["score"] for row in body["results"]] == [9, 5]
    assert body["count"] == 3


async def test_delete_then_get_is_101_not_found(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = (await client.post("/classes/Gone", json={"x": 1}, headers=headers)).json()
    path = f"/classes/Gone/{created['objectId']}"
    assert (await client.delete(path, headers=headers)).json() == {}
    missing = await client.get(path, headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"code": 101, "error": "Object not found."}


async def test_wrong_type_is_111_and_leaves_the_object_unchanged(client: httpx.AsyncClient,
                                                                  headers: dict[str, str]) -> None:
    created = (await client.post("/classes/Typed", json={"score": 1}, headers=headers)).json()
    path = f"/classes/Typed/{created['objectId']}"
    response = await client.put(path, json={"score": "high", "other": 2}, headers=headers)
    assert response.status_code == 400 and response.json()["code"] == 111
    assert "other" not in (await client.get(path, headers=headers)).json()


async def test_without_application_id_is_403_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.get("/classes/Anything")
    assert response.status_code == 403
    assert response.json() == {"error": "unauthorized"}


async def test_a_repeated_key_header_counts_by_its_first_value(client: httpx.AsyncClient) -> None:
    from tests.conftest import APP_ID, MASTER_KEY

    first_right = [("X-Parse-Application-Id", APP_ID), ("X-Parse-Application-Id", "wrong")]
    assert (await client.get("/classes/Anything", headers=first_right)).status_code == 200
    first_wrong = [("X-Parse-Application-Id", "wrong"), ("X-Parse-Application-Id", APP_ID)]
    assert (await client.get("/classes/Anything", headers=first_wrong)).status_code == 403
    master_second = [*first_right, ("X-Parse-Master-Key", "nope"), ("X-Parse-Master-Key", MASTER_KEY)]
    assert (await client.get("/classes/Anything", headers=master_second)).status_code == 403  # the first: wrong
    master_first = [*first_right, ("X-Parse-Master-Key", MASTER_KEY), ("X-Parse-Master-Key", "nope")]
    assert (await client.get("/schemas", headers=master_first)).status_code == 200


async def test_js_sdk_style_tunnelled_post_is_a_get(client: httpx.AsyncClient) -> None:
    from tests.conftest import APP_ID

    await client.post("/classes/Tunnel", json={"k": "v"}, headers={"X-Parse-Application-Id": APP_ID})
    payload = {"_method": "GET", "_ApplicationId": APP_ID, "where": {"k": "v"}}
    response = await client.post("/classes/Tunnel", content=json.dumps(payload), headers={"content-type": "text/plain"})
    assert response.status_code == 200
    assert [row["k"] for row in response.json()["results"]] == ["v"]
    # the keys written with JSON escapes are the same keys (the tunnel skips parsing only bodies that lack them)
    escaped = json.dumps(payload).replace('"_method"', '"\\u005fmethod"').replace('"_ApplicationId"',
                                                                                '"\\u005fApplication\\u0049d"')
    assert "_method" not in escaped and "_ApplicationId" not in escaped
    response = await client.post("/classes/Tunnel", content=escaped, headers={"content-type": "text/plain"})
    assert response.status_code == 200
    assert [row["k"] for row in response.json()["results"]] == ["v"]
