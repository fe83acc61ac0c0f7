"""/push_audiences on both engines: Parse's shapes (query answered decoded), master key only."""

from __future__ import annotations

import json

import httpx


async def test_audience_crud_with_the_master_key(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    query = {"deviceType": {"$in": ["ios"]}}
    made = await client.post("/push_audiences", json={"name": "iOS", "query": json.dumps(query)},
                             headers=master_headers)
    assert made.status_code == 201 and made.headers["location"].endswith(f"/push_audiences/{made.json()['objectId']}")
    audience_id = made.json()["objectId"]
    got = (await client.get(f"/push_audiences/{audience_id}", headers=master_headers)).json()
    assert (got["name"], got["query"]) == ("iOS", query)  # stored as a string, answered as an object
    listed = (await client.get("/push_audiences", headers=master_headers)).json()
    assert [(row["objectId"], row["query"]) for row in listed["results"]] == [(audience_id, query)]
    changed = {"query": json.dumps({"deviceType": "android"}), "timesUsed": {"__op": "Increment", "amount": 1}}
    updated = await client.put(f"/push_audiences/{audience_id}", json=changed, headers=master_headers)
    assert "updatedAt" in updated.json()
    got = (await client.get(f"/push_audiences/{audience_id}", headers=master_headers)).json()
    assert (got["query"], got["timesUsed"]) == ({"deviceType": "android"}, 1)
    assert (await client.delete(f"/push_audiences/{audience_id}", headers=master_headers)).json() == {}
    missing = await client.get(f"/push_audiences/{audience_id}", headers=master_headers)
    assert missing.json()["code"] == 101


async def test_audiences_need_the_master_key_on_every_face(client: httpx.AsyncClient, headers: dict[str, str],
                                                           master_headers: dict[str, str]) -> None:
    made = await client.post("/push_audiences", json={"name": "all", "query": "{}"}, headers=master_headers)
    audience_id = made.json()["objectId"]
    for method, path in (("GET", "/push_audiences"), ("POST", "/push_audiences"),
                         ("GET", f"/push_audiences/{audience_id}"), ("PUT", f"/push_audiences/{audience_id}"),
                         ("DELETE", f"/push_audiences/{audience_id}")):
        refused = await client.request(method, path, json={"name": "x"}, headers=headers)
        assert (refused.status_code, refused.json()) == (403, {"error": "unauthorized: master key is required"})
    # Ballast keeps the class master-only: /classes/_Audience does not open it to clients
    assert (await client.get("/classes/_Audience", headers=headers)).json()["code"] == 119
    assert (await client.get("/push_audiences", headers=master_headers)).json()["results"][0]["name"] == "all"
