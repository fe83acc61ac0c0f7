"""Parse 9's master-only classes (push audiences, job runs and schedules, server state) refuse every client
with 119 on every path: /classes, batch, POST with _method=GET, count. Before: while no audience existed, any
app-key client or user could create _Audience through /classes (open class permissions), then list and edit
push audiences there (the /push_audiences face refused them).
"""

from __future__ import annotations

import httpx


async def test_clients_cannot_touch_push_audiences(client: httpx.AsyncClient, headers: dict[str, str],
                                                   master_headers: dict[str, str]) -> None:
    class_name = "_Audience"
    signed = await client.post("/users", json={"username": "mallory", "password": "pw"}, headers=headers)
    for who in (headers, headers | {"X-Parse-Session-Token": signed.json()["sessionToken"]}):
        # before: the first client to write _Audience created it with open class permissions
        first = await client.post(f"/classes/{class_name}", json={"name": "mine", "query": "{}"}, headers=who)
        assert first.status_code in (400, 403) and first.json()["code"] == 119, first.text
    made = await client.post("/push_audiences", json={"name": "all", "query": "{}"}, headers=master_headers)
    assert made.status_code == 201, made.text
    signed = await client.post("/users", json={"username": "eve", "password": "pw"}, headers=headers)
    user = headers | {"X-Parse-Session-Token": signed.json()["sessionToken"]}
    path = f"/classes/{class_name}"
    for who in (headers, user):
        attempts = [client.get(path, headers=who), client.get(path, params={"count": 1, "limit": 0}, headers=who),
                    client.post(path, json={"name": "x", "query": "{}"}, headers=who),
                    client.post(path, json={"_method": "GET"}, headers=who),
                    client.get(f"{path}/{made.json()['objectId']}", headers=who),
                    client.put(f"{path}/{made.json()['objectId']}", json={"name": "y"}, headers=who),
                    client.delete(f"{path}/{made.json()['objectId']}", headers=who)]
        for attempt in attempts:
            answer = await attempt
            assert answer.status_code in (400, 403) and answer.json()["code"] == 119, answer.text
        batch = await client.post("/batch", json={"requests": [
            {"method": "POST", "path": f"/parse{path}", "body": {"name": "z"}},
            {"method": "GET", "path": f"/parse{path}"}]}, headers=who)
        assert [item["error"]["code"] for item in batch.json()] == [119, 119], batch.text
    listed = await client.get(path, headers=master_headers)  # the master key still manages them, unchanged
    assert [row["name"] for row in listed.json()["results"]] == ["all"]


async def test_a_master_only_class_refuses_clients_before_it_exists(client: httpx.AsyncClient,
                                                                   headers: dict[str, str]) -> None:
    """As Parse: the refusal is by name, so a client learns nothing (not even that the class is empty)."""
    path = "/classes/_JobStatus"
    attempts = [client.get(path, headers=headers), client.get(path, params={"count": 1, "limit": 0}, headers=headers),
                client.post(path, json={"_method": "GET", "where": {"status": "failed"}}, headers=headers),
                client.get(f"{path}/abc", headers=headers), client.put(f"{path}/abc", json={"a": 1}, headers=headers),
                client.delete(f"{path}/abc", headers=headers)]
    for attempt in attempts:
        answer = await attempt
        assert answer.status_code in (400, 403) and answer.json() == {
            "code": 119, "error": answer.json()["error"]}, answer.text
        assert "_JobStatus" in answer.json()["error"]
    unknown = await client.get("/classes/NoSuchClass/abc", headers=headers)  # an ordinary class: 101 as before
    assert unknown.json()["code"] == 101
