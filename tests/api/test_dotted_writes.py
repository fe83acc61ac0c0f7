"""Dotted keys in updates: every operator inside an Object field, at any depth, both engines (issue 17)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}


async def make(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    made = await client.post("/classes/Nested", json=body, headers=H)
    assert made.status_code == 201, made.text
    return str(made.json()["objectId"])


async def put(client: httpx.AsyncClient, object_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.put(f"/classes/Nested/{object_id}", json=body, headers=H)


async def stored(client: httpx.AsyncClient, object_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/classes/Nested/{object_id}", headers=H)).json())


async def test_every_operator_applies_inside_the_object_field(client: httpx.AsyncClient) -> None:
    object_id = await make(client, {"stats": {"number": 5, "keep": "me", "deep": {"tags": ["a"], "gone": 1}}})
    answer = await put(client, object_id, {
        "stats.number": {"__op": "Increment", "amount": 10},
        "stats.deep.tags": {"__op": "AddUnique", "objects": ["a", "b"]},
        "stats.deep.list": {"__op": "Add", "objects": [1, 2, 2]},
        "stats.deep.gone": {"__op": "Delete"},
        "stats.deep.deeper.label": "new",
    })
    assert answer.status_code == 200, answer.text
    expected = {"number": 15, "keep": "me",
                "deep": {"tags": ["a", "b"], "list": [1, 2, 2], "deeper": {"label": "new"}}}
    assert answer.json()["stats"] == expected  # Parse answers with the updated field
    assert (await stored(client, object_id))["stats"] == expected
    removed = await put(client, object_id, {"stats.deep.list": {"__op": "Remove", "objects": [2]}})
    assert removed.json()["stats"]["deep"]["list"] == [1]
    found = (await client.get("/classes/Nested", params={"where": '{"stats.deep.deeper.label": "new"}'},
                              headers=H)).json()["results"]
    assert [obj["objectId"] for obj in found] == [object_id]


async def test_a_dotted_key_on_a_missing_field_creates_the_object(client: httpx.AsyncClient) -> None:
    object_id = await make(client, {"name": "x"})
    answer = await put(client, object_id, {"counters.visits": {"__op": "Increment", "amount": 1}})
    assert answer.status_code == 200, answer.text
    assert (await stored(client, object_id))["counters"] == {"visits": 1}
    schema = (await client.get("/schemas/Nested", headers=MASTER)).json()
    assert schema["fields"]["counters"] == {"type": "Object"}


@pytest.mark.parametrize(("body", "code"), [
    ({"ACL.*": {"read": True}}, 105),
    ({"objectId.x": 1}, 105),
    ({"stats.": 1}, 105),
    ({"stats.$where": 1}, 105),
    ({"stats..x": 1}, 105),
    ({"name.inner": 1}, 111),  # a String field holds no keys
    ({"stats.keep.inner": 1}, 111),
    ({"stats.number": {"__op": "Increment", "amount": 1}, "stats": {}}, 105),
    ({"stats.keep": {"__op": "Increment", "amount": 1}}, 111),
])
async def test_bad_dotted_keys_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, body: dict[str, Any], code: int,
) -> None:
    object_id = await make(client, {"name": "x", "stats": {"number": 1, "keep": "k"}})
    before = await stored(client, object_id)
    answer = await put(client, object_id, body)
    assert answer.status_code == 400 and answer.json()["code"] == code, answer.text
    assert await stored(client, object_id) == before


async def test_dotted_keys_obey_the_acl_and_cannot_reach_a_users_auth_data(client: httpx.AsyncClient) -> None:
    owner = (await client.post("/users", json={"username": "o", "password": "p"}, headers=H)).json()
    other = (await client.post("/users", json={"username": "t", "password": "p"}, headers=H)).json()
    acl = {owner["objectId"]: {"read": True, "write": True}, "*": {"read": True}}
    object_id = await make(client, {"stats": {"n": 1}, "ACL": acl})
    intruder = {**H, "X-Parse-Session-Token": other["sessionToken"]}
    refused = await client.put(f"/classes/Nested/{object_id}", json={"stats.n": 9}, headers=intruder)
    assert refused.json()["code"] == 101
    linked = await client.put(f"/users/{owner['objectId']}", json={"authData.anonymous": {"id": "x"}},
                              headers={**H, "X-Parse-Session-Token": owner["sessionToken"]})
    assert linked.status_code == 200, linked.text  # goes through the same authData rules as a whole write
    taken = await client.put(f"/users/{other['objectId']}", json={"authData.anonymous": {"id": "x"}},
                             headers=intruder)
    assert taken.json()["code"] == 208
    with_creation = await client.post("/classes/Nested", json={"stats.n": 1}, headers=H)
    assert with_creation.json()["code"] == 105  # a create names whole fields only
