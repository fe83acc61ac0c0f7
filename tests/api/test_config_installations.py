"""/config and /installations on both engines: master-only params, required IDs, and device dedupe."""

from __future__ import annotations

import httpx


async def test_config_put_then_get_hides_master_only_params(client: httpx.AsyncClient, headers: dict[str, str],
                                                            master_headers: dict[str, str]) -> None:
    body = {"params": {"welcome": "hi", "secret": 42}, "masterKeyOnly": {"secret": True}}
    response = await client.put("/config", json=body, headers=master_headers)
    assert response.status_code == 200 and response.json() == {"result": True}
    assert (await client.get("/config", headers=headers)).json()["params"] == {"welcome": "hi"}
    full = (await client.get("/config", headers=master_headers)).json()
    assert full["params"] == {"welcome": "hi", "secret": 42} and full["masterKeyOnly"]["secret"] is True
    await client.put("/config", json={"params": {"welcome": {"__op": "Delete"}}}, headers=master_headers)
    assert (await client.get("/config", headers=headers)).json()["params"] == {}


async def test_config_refuses_malformed_params_and_keeps_the_old(client: httpx.AsyncClient,
                                                                 master_headers: dict[str, str]) -> None:
    await client.put("/config", json={"params": {"a": 1}}, headers=master_headers)
    for body in ({"params": "x"}, {"params": {"d": {"__type": "Date"}}}, {"masterKeyOnly": {"a": "yes"}}):
        response = await client.put("/config", json=body, headers=master_headers)
        assert response.status_code == 400, body
    assert (await client.get("/config", headers=master_headers)).json()["params"] == {"a": 1}


async def test_installation_create_needs_an_id_and_a_device_type(client: httpx.AsyncClient,
                                                                  headers: dict[str, str]) -> None:
    missing_id = await client.post("/installations", json={"deviceType": "ios"}, headers=headers)
    assert missing_id.json() == {
        "code": 135, "error": "at least one ID field (deviceToken, installationId) must be specified in this operation",
    }
    missing_type = await client.post("/installations", json={"installationId": "abc"}, headers=headers)
    assert missing_type.json() == {"code": 135, "error": "deviceType must be specified in this operation"}


async def test_same_installation_id_updates_instead_of_duplicating(client: httpx.AsyncClient, headers: dict[str, str],
                                                                    master_headers: dict[str, str]) -> None:
    first = await client.post("/installations", json={"installationId": "ABC-1", "deviceType": "ios", "badge": 1},
                              headers=headers)
    assert first.status_code == 201
    object_id = first.json()["objectId"]
    again = await client.post("/installations", json={"installationId": "abc-1", "badge": 5}, headers=headers)
    assert again.status_code == 200 and again.json()["objectId"] == object_id
    rows = (await client.get("/installations", headers=master_headers)).json()["results"]
    assert [(row["objectId"], row["installationId"], row["badge"]) for row in rows] == [(object_id, "abc-1", 5)]
    changed = await client.put(f"/installations/{object_id}", json={"deviceType": "android"}, headers=headers)
    assert changed.json() == {"code": 136, "error": "deviceType may not be changed in this operation"}
    fetched = (await client.get(f"/installations/{object_id}", headers=master_headers)).json()
    assert fetched["deviceType"] == "ios"
    assert (await client.delete(f"/installations/{object_id}", headers=master_headers)).json() == {}


async def test_installation_id_header_counts_and_batch_reaches_installations(client: httpx.AsyncClient,
                                                                             headers: dict[str, str],
                                                                             master_headers: dict[str, str]) -> None:
    with_header = {**headers, "X-Parse-Installation-Id": "Header-Id"}
    created = await client.post("/installations", json={"deviceType": "web"}, headers=with_header)
    assert created.status_code == 201
    batch = {"requests": [{"method": "POST", "path": "/parse/installations",
                           "body": {"installationId": "header-id", "channels": ["news"]}}]}
    result = (await client.post("/batch", json=batch, headers=headers)).json()
    assert result[0]["success"]["objectId"] == created.json()["objectId"]
    rows = (await client.get("/installations", headers=master_headers)).json()["results"]
    assert len(rows) == 1 and rows[0]["channels"] == ["news"] and rows[0]["installationId"] == "header-id"


async def test_classes_installation_path_applies_the_same_rules(client: httpx.AsyncClient,
                                                                headers: dict[str, str]) -> None:
    missing = await client.post("/classes/_Installation", json={"deviceType": "ios"}, headers=headers)
    assert missing.json()["code"] == 135
    first = await client.post("/classes/_Installation", json={"installationId": "c-1", "deviceType": "ios"},
                              headers=headers)
    again = await client.post("/classes/_Installation", json={"installationId": "c-1", "badge": 3}, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["objectId"] == first.json()["objectId"]
    changed = await client.put(f"/classes/_Installation/{first.json()['objectId']}",
                               json={"installationId": "other"}, headers=headers)
    assert changed.json()["code"] == 136


async def test_rewriting_a_param_without_its_flag_makes_it_public_again(client: httpx.AsyncClient,
                                                                         headers: dict[str, str],
                                                                         master_headers: dict[str, str]) -> None:
    await client.put("/config", json={"params": {"k": 1}, "masterKeyOnly": {"k": True}}, headers=master_headers)
    assert (await client.get("/config", headers=headers)).json()["params"] == {}
    await client.put("/config", json={"params": {"k": 2}}, headers=master_headers)
    assert (await client.get("/config", headers=headers)).json()["params"] == {"k": 2}


async def test_clients_cannot_list_count_or_delete_installations_on_any_path(client: httpx.AsyncClient,
                                                                            headers: dict[str, str],
                                                                            master_headers: dict[str, str]) -> None:
    """Parse 9 refuses find and delete on _Installation without the master key (119): a client that could list
    them would read every device's push token."""
    made = await client.post("/installations", json={"installationId": "dev-1", "deviceType": "ios",
                                                     "deviceToken": "secret-push-token"}, headers=headers)
    object_id = made.json()["objectId"]
    refused = [
        await client.get("/installations", headers=headers),
        await client.get("/classes/_Installation", headers=headers),
        await client.get("/classes/_Installation", params={"count": 1, "limit": 0}, headers=headers),
        await client.post("/classes/_Installation", json={"_method": "GET"}, headers=headers),
        await client.delete(f"/installations/{object_id}", headers=headers),
        await client.delete(f"/classes/_Installation/{object_id}", headers=headers),
    ]
    for answer in refused:
        assert answer.status_code == 400 and answer.json()["code"] == 119, answer.text
        assert "secret-push-token" not in answer.text
    batch = {"requests": [{"method": "GET", "path": "/parse/installations"},
                          {"method": "DELETE", "path": f"/parse/classes/_Installation/{object_id}"}]}
    results = (await client.post("/batch", json=batch, headers=headers)).json()
    assert [result["error"]["code"] for result in results] == [119, 119]
    # the device itself still reads and updates its own row by id, and the master key lists them
    assert (await client.get(f"/installations/{object_id}", headers=headers)).status_code == 200
    listed = (await client.get("/installations", headers=master_headers)).json()["results"]
    assert [row["objectId"] for row in listed] == [object_id]
