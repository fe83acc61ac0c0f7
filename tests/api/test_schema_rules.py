"""Schema rules as Parse Server 9 applies them (issue 17): defaultValue on create, required fields,
no field named ``length``, one GeoPoint field per class; both engines."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}
GEO = {"__type": "GeoPoint", "latitude": 1, "longitude": 2}


async def make_class(client: httpx.AsyncClient, name: str, fields: dict[str, Any]) -> None:
    made = await client.post(f"/schemas/{name}", json={"className": name, "fields": fields}, headers=MASTER)
    assert made.status_code == 200, made.text


async def test_default_values_fill_a_create_and_are_answered(client: httpx.AsyncClient) -> None:
    await make_class(client, "Task", {"status": {"type": "String", "defaultValue": "open"},
                                      "priority": {"type": "Number", "required": True, "defaultValue": 3},
                                      "title": {"type": "String", "required": True}})
    made = await client.post("/classes/Task", json={"title": "write"}, headers=H)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "open" and made.json()["priority"] == 3
    stored = (await client.get(f"/classes/Task/{made.json()['objectId']}", headers=H)).json()
    assert (stored["status"], stored["priority"]) == ("open", 3)
    own = (await client.post("/classes/Task", json={"title": "x", "status": "done"}, headers=H)).json()
    assert "status" not in own, "a value the client sent is not echoed"
    missing = await client.post("/classes/Task", json={"status": "x"}, headers=H)
    assert missing.status_code == 400 and missing.json() == {"code": 142, "error": "title is required"}
    empty = await client.post("/classes/Task", json={"title": ""}, headers=H)
    assert empty.json()["code"] == 142


async def test_a_required_field_cannot_be_unset_on_update(client: httpx.AsyncClient) -> None:
    await make_class(client, "Ticket", {"title": {"type": "String", "required": True}})
    object_id = (await client.post("/classes/Ticket", json={"title": "a"}, headers=H)).json()["objectId"]
    for body in ({"title": {"__op": "Delete"}}, {"title": None}):
        answer = await client.put(f"/classes/Ticket/{object_id}", json=body, headers=H)
        assert answer.json() == {"code": 142, "error": "title is required"}
    assert (await client.put(f"/classes/Ticket/{object_id}", json={"other": 1}, headers=H)).status_code == 200
    assert (await client.get(f"/classes/Ticket/{object_id}", headers=H)).json()["title"] == "a"


async def test_a_field_named_length_is_refused_everywhere(client: httpx.AsyncClient) -> None:
    assert (await client.post("/classes/Sized", json={"length": 3}, headers=H)).json()["code"] == 105
    schema = await client.post("/schemas/Sized2", json={"fields": {"length": {"type": "Number"}}}, headers=MASTER)
    assert schema.json()["code"] == 105


async def test_only_one_geo_point_field_per_class(client: httpx.AsyncClient) -> None:
    assert (await client.post("/classes/Spot", json={"at": GEO}, headers=H)).status_code == 201
    second = await client.post("/classes/Spot", json={"near": GEO}, headers=H)
    assert second.status_code == 400 and second.json()["code"] == 111
    both = await client.post("/classes/Spot2", json={"a": GEO, "b": GEO}, headers=H)
    assert both.json()["code"] == 111
    assert (await client.get("/classes/Spot2", headers=H)).json() == {"results": []}
    by_schema = await client.put("/schemas/Spot", json={"fields": {"near": {"type": "GeoPoint"}}}, headers=MASTER)
    assert by_schema.json()["code"] == 111
    fields = (await client.get("/schemas/Spot", headers=MASTER)).json()["fields"]
    assert "near" not in fields
