"""Roles over REST on both engines: name rules (139), hierarchy with cycles, cache invalidation."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER_KEY}


def role_ptr(role_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_Role", "objectId": role_id}


def user_ptr(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


async def make_role(client: httpx.AsyncClient, name: str, **more: Any) -> str:
    response = await client.post("/roles", json={"name": name, "ACL": {"*": {"read": True}}, **more}, headers=M)
    assert response.status_code == 201, response.text
    return str(response.json()["objectId"])


async def test_role_names_follow_parse_rules(client: httpx.AsyncClient) -> None:
    for bad in ("bad/name", "", "emoji 🙂", None):
        response = await client.post("/roles", json={"name": bad}, headers=M)
        assert response.json()["code"] == 139, (bad, response.text)
    typed = await client.post("/roles", json={"name": 7}, headers=M)
    assert typed.json()["code"] == 111  # the schema says String
    role_id = await make_role(client, "Good Name_1-x")
    rename = await client.put(f"/roles/{role_id}", json={"name": "Other"}, headers=M)
    assert rename.json()["code"] == 139
    duplicate = await client.post("/roles", json={"name": "Good Name_1-x"}, headers=M)
    assert duplicate.json()["code"] == 137


async def test_hierarchy_with_a_cycle_resolves_every_inherited_role_once(client: httpx.AsyncClient,
                                                                          app: FastAPI) -> None:
    user = (await client.post("/users", json={"username": "deep", "password": "pw"}, headers=H)).json()
    level3 = await make_role(client, "Level3", users={"__op": "AddRelation", "objects": [user_ptr(user["objectId"])]})
    level2 = await make_role(client, "Level2", roles={"__op": "AddRelation", "objects": [role_ptr(level3)]})
    level1 = await make_role(client, "Level1", roles={"__op": "AddRelation", "objects": [role_ptr(level2)]})
    # a cycle: Level3 inherits Level1 too; resolution must still end
    await client.put(f"/roles/{level3}", json={"roles": {"__op": "AddRelation", "objects": [role_ptr(level1)]}},
                     headers=M)
    await make_role(client, "Unrelated")
    roles = await app.state.services.identity.roles.roles_for(user["objectId"])
    assert roles == {"Level1", "Level2", "Level3"}
    doc = await client.post("/classes/Doc", json={"ACL": {"role:Level1": {"read": True}}}, headers=M)
    token = {**H, "X-Parse-Session-Token": user["sessionToken"]}
    assert (await client.get(f"/classes/Doc/{doc.json()['objectId']}", headers=token)).status_code == 200
    # removing the user from Level3 takes effect at once (the cache is dropped on commit)
    await client.put(f"/roles/{level3}", json={"users": {"__op": "RemoveRelation",
                                                          "objects": [user_ptr(user["objectId"])]}}, headers=M)
    assert (await client.get(f"/classes/Doc/{doc.json()['objectId']}", headers=token)).status_code == 404


async def test_role_membership_changes_are_security_events(client: httpx.AsyncClient) -> None:
    user = (await client.post("/users", json={"username": "member", "password": "pw"}, headers=H)).json()
    await make_role(client, "Auditors", users={"__op": "AddRelation", "objects": [user_ptr(user["objectId"])]})
    events = (await client.get("/classes/_SecurityEvent", params={"where": '{"event":"role.create"}'},
                               headers=M)).json()["results"]
    assert events[0]["target"] == "Auditors" and events[0]["actor"] == "master"
    assert events[0]["details"] == {"users": {"add": [user["objectId"]], "remove": []}}
