"""/schemas and /purge on both engines: shapes as parse-server answers, master key only, refusals leave no trace."""

from __future__ import annotations

import json

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID


async def test_create_get_update_and_delete_a_class(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    fields = {"score": {"type": "Number"}, "owner": {"type": "Pointer", "targetClass": "_User"}}
    body = {"className": "Game", "fields": fields}
    created = await client.post("/schemas", json=body, headers=master_headers)
    assert created.status_code == 200
    schema = created.json()
    assert schema["className"] == "Game"
    assert schema["fields"] == {
        "objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
        "ACL": {"type": "ACL"}, "score": {"type": "Number"}, "owner": {"type": "Pointer", "targetClass": "_User"},
    }
    assert schema["classLevelPermissions"]["find"] == {"*": True}
    assert schema["classLevelPermissions"]["protectedFields"] == {"*": []}

    update = {"fields": {"score": {"__op": "Delete"}, "name": {"type": "String"}}, "indexes": {"by_name": {"name": 1}}}
    changed = (await client.put("/schemas/Game", json=update, headers=master_headers)).json()
    assert "score" not in changed["fields"] and changed["fields"]["name"] == {"type": "String"}
    assert changed["indexes"] == {"_id_": {"_id": 1}, "by_name": {"name": 1}}
    assert (await client.get("/schemas/Game", headers=master_headers)).json() == changed

    listed = (await client.get("/schemas", headers=master_headers)).json()["results"]
    assert "Game" in [entry["className"] for entry in listed]

    assert (await client.delete("/schemas/Game", headers=master_headers)).json() == {}
    missing = await client.get("/schemas/Game", headers=master_headers)
    assert missing.status_code == 400 and missing.json() == {"code": 103, "error": "Class Game does not exist."}


async def test_deleting_the_last_index_keeps_the_objectid_index(client: httpx.AsyncClient,
                                                                 master_headers: dict[str, str]) -> None:
    body = {"className": "Indexed", "fields": {"name": {"type": "String"}}, "indexes": {"by_name": {"name": 1}}}
    assert (await client.post("/schemas", json=body, headers=master_headers)).json()["indexes"] == {
        "_id_": {"_id": 1}, "by_name": {"name": 1}}
    drop = {"indexes": {"by_name": {"__op": "Delete"}}}
    changed = (await client.put("/schemas/Indexed", json=drop, headers=master_headers)).json()
    assert changed["indexes"] == {"_id_": {"_id": 1}}  # as Parse Server: _id_ stays once indexes were set
    assert (await client.get("/schemas/Indexed", headers=master_headers)).json()["indexes"] == {"_id_": {"_id": 1}}
    for change in ({"_id_": {"__op": "Delete"}}, {"_id_": {"name": 1}}):
        refused = await client.put("/schemas/Indexed", json={"indexes": change}, headers=master_headers)
        assert refused.json()["code"] == 102
    again = {"indexes": {"by_name": {"name": -1}}}  # the index name is free again, and builds
    assert (await client.put("/schemas/Indexed", json=again, headers=master_headers)).json()["indexes"] == {
        "_id_": {"_id": 1}, "by_name": {"name": -1}}


async def test_delete_of_a_class_with_objects_is_255_and_keeps_them(client: httpx.AsyncClient, headers: dict[str, str],
                                                                     master_headers: dict[str, str]) -> None:
    await client.post("/classes/Full", json={"n": 1}, headers=headers)
    response = await client.delete("/schemas/Full", headers=master_headers)
    assert response.status_code == 400
    assert response.json() == {"code": 255, "error": "Class Full is not empty, contains 1 objects, cannot drop schema."}
    assert len((await client.get("/classes/Full", headers=headers)).json()["results"]) == 1


async def test_purge_empties_the_class_but_keeps_its_schema(client: httpx.AsyncClient, headers: dict[str, str],
                                                             master_headers: dict[str, str]) -> None:
    for n in range(3):
        await client.post("/classes/Purged", json={"n": n}, headers=headers)
    assert (await client.delete("/purge/Purged", headers=master_headers)).json() == {}
    assert (await client.get("/classes/Purged", headers=headers)).json() == {"results": []}
    assert "n" in (await client.get("/schemas/Purged", headers=master_headers)).json()["fields"]
    assert (await client.delete("/schemas/Purged", headers=master_headers)).json() == {}
    assert (await client.delete("/purge/NeverWas", headers=master_headers)).json() == {}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/schemas"), ("GET", "/schemas/X"), ("POST", "/schemas/X"), ("PUT", "/schemas/X"),
    ("DELETE", "/schemas/X"), ("DELETE", "/purge/X"), ("GET", "/aggregate/X"), ("PUT", "/config"),
])
async def test_master_only_routes_answer_403_without_it(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={}, headers={"X-Parse-Application-Id": APP_ID})
    assert response.status_code == 403
    assert response.json() == {"error": "unauthorized: master key is required"}


@pytest.mark.parametrize(("body", "code"), [
    ({"className": "Other"}, 103),
    ({"fields": {"bad-name": {"type": "String"}}}, 105),
    ({"fields": {"x": {"type": "Nope"}}}, 111),
    ({"fields": {"objectId": {"type": "String"}}}, 136),
    ({"fields": {"p": {"type": "Pointer"}}}, 255),
    ({"fields": "x"}, 107),
    ({"indexes": {"i": {"missing": 1}}}, 102),
])
async def test_bad_schema_bodies_are_refused_and_create_nothing(
    client: httpx.AsyncClient, master_headers: dict[str, str], body: dict[str, object], code: int
) -> None:
    response = await client.post("/schemas/Wanted", json=body, headers=master_headers)
    assert response.status_code == 400 and response.json()["code"] == code, response.json()
    assert (await client.get("/schemas/Wanted", headers=master_headers)).json()["code"] == 103


async def test_update_refusals(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    await client.post("/schemas/U", json={"fields": {"a": {"type": "String"}}}, headers=master_headers)
    cases = [
        ({"fields": {"a": {"type": "Number"}}}, 255, "Field a exists, cannot update."),
        ({"fields": {"zz": {"__op": "Delete"}}}, 255, "Field zz does not exist, cannot delete."),
        ({"indexes": {"gone": {"__op": "Delete"}}}, 102, "Index gone does not exist, cannot delete."),
    ]
    for body, code, message in cases:
        response = await client.put("/schemas/U", json=body, headers=master_headers)
        assert response.json() == {"code": code, "error": message}
    same = await client.put("/schemas/U", json={"fields": {"a": {"type": "String"}}}, headers=master_headers)
    assert same.status_code == 200
    assert (await client.put("/schemas/Nope", json={}, headers=master_headers)).json()["code"] == 103
    assert (await client.post("/schemas", json={}, headers=master_headers)).json()["code"] == 135


async def test_read_only_master_key_reads_but_cannot_change(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"read_only_master_key": "read-only-key"}))
    read_only = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": "read-only-key"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as client:
            assert (await client.get("/schemas", headers=read_only)).status_code == 200
            for method, path, message in (
                ("POST", "/schemas/Ro", "read-only masterKey isn't allowed to create a schema."),
                ("DELETE", "/purge/Ro", "read-only masterKey isn't allowed to purge a schema."),
                ("PUT", "/config", "read-only masterKey isn't allowed to update the config."),
                ("GET", "/aggregate/Ro", "Cannot run an aggregation pipeline when using the readOnlyMasterKey"),
            ):
                response = await client.request(method, path, json={}, headers=read_only)
                assert response.json() == {"code": 119, "error": message}, path
            assert (await client.get("/schemas/Ro", headers=read_only)).json()["code"] == 103


async def test_schema_and_clp_changes_are_recorded_in_the_security_trail(
    client: httpx.AsyncClient, master_headers: dict[str, str]
) -> None:
    await client.post("/schemas/Audited", json={"fields": {"title": {"type": "String"}}}, headers=master_headers)
    clp = {"find": {"*": True}, "get": {"*": True}, "create": {"role:Editors": True}}
    await client.put("/schemas/Audited", json={"classLevelPermissions": clp}, headers=master_headers)
    await client.delete("/schemas/Audited", headers=master_headers)
    where = json.dumps({"target": "Audited"})
    trail = await client.get("/classes/_SecurityEvent", params={"where": where, "order": "createdAt"},
                             headers=master_headers)
    events = [(row["event"], row["actor"]) for row in trail.json()["results"]]
    assert events == [("schema.create", "master"), ("schema.update", "master"), ("clp.change", "master"),
                      ("schema.delete", "master")]
    clp_change = trail.json()["results"][2]["details"]
    assert clp_change["after"] == clp and clp_change["before"]["create"] == {"*": True}


async def test_a_refused_schema_change_leaves_no_trail(
    client: httpx.AsyncClient, master_headers: dict[str, str]
) -> None:
    bad = {"fields": {"title": {"type": "NotAType"}}}
    assert (await client.post("/schemas/Refused", json=bad, headers=master_headers)).status_code == 400
    where = json.dumps({"target": "Refused"})
    trail = await client.get("/classes/_SecurityEvent", params={"where": where}, headers=master_headers)
    assert trail.json()["results"] == []
