"""Object triggers through /classes (ASGI client, both engines): veto, mutate, observe, narrow, refuse."""

from __future__ import annotations

import httpx


async def test_before_save_veto_leaves_no_object(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    answer = await client.post("/classes/CloudReview", json={"text": "ok"}, headers=headers)
    assert answer.json() == {"code": 142, "error": "review too short"}
    assert (await client.get("/classes/CloudReview", headers=headers)).json()["results"] == []


async def test_before_save_on_update_sees_the_original(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = (await client.post("/classes/CloudReview", json={"text": "first take"}, headers=headers)).json()
    path = f"/classes/CloudReview/{created['objectId']}"
    assert (await client.put(path, json={"text": "no"}, headers=headers)).json()["code"] == 142
    await client.put(path, json={"text": "  second take "}, headers=headers)
    stored = (await client.get(path, headers=headers)).json()
    assert stored["text"] == "second take"
    audits = (await client.get("/classes/CloudAudit", headers=headers)).json()["results"]
    assert [(row["text"], row["isNew"]) for row in audits] == [("first take", True), ("second take", False)]


async def test_the_client_context_reaches_triggers_and_before_save_can_add_to_it(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    sent = {**headers, "X-Parse-Cloud-Context": '{"source": "api"}'}
    await client.post("/classes/CloudReview", json={"text": "with context"}, headers=sent)
    audit = (await client.get("/classes/CloudAudit", headers=headers)).json()["results"][0]
    assert audit["context"] == {"source": "api", "checkedBy": "beforeSave"}


async def test_before_delete_can_refuse(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = (await client.post("/classes/CloudLocked", json={"n": 1}, headers=headers)).json()
    path = f"/classes/CloudLocked/{created['objectId']}"
    assert (await client.delete(path, headers=headers)).json() == {"code": 119, "error": "locked objects stay"}
    assert (await client.get(path, headers=headers)).status_code == 200


async def test_before_find_narrows_even_a_client_where(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for label, visible in (("a", True), ("b", False), ("c", True)):
        await client.post("/classes/CloudSecret", json={"label": label, "visible": visible}, headers=headers)
    params = {"where": '{"visible": false}'}
    assert (await client.get("/classes/CloudSecret", params=params, headers=headers)).json()["results"] == []
    found = (await client.get("/classes/CloudSecret", params={"order": "label"}, headers=headers)).json()["results"]
    assert [(row["label"], row["seen"]) for row in found] == [("a", True), ("c", True)]
    got = await client.get(f"/classes/CloudSecret/{found[0]['objectId']}", headers=headers)
    assert got.json()["seen"] is True  # afterFind runs on a get too, as in Parse


async def test_before_find_runs_on_a_get_by_id(client: httpx.AsyncClient, headers: dict[str, str],
                                               master_headers: dict[str, str]) -> None:
    hidden = (await client.post("/classes/CloudSecret", json={"visible": False}, headers=headers)).json()
    for sent in (headers, master_headers):  # Parse runs triggers for the master key too
        got = await client.get(f"/classes/CloudSecret/{hidden['objectId']}", headers=sent)
        assert (got.status_code, got.json()) == (404, {"code": 101, "error": "Object not found."})
    batch = {"requests": [{"method": "GET", "path": f"/parse/classes/CloudSecret/{hidden['objectId']}"}]}
    assert (await client.post("/batch", json=batch, headers=headers)).json()[0]["error"]["code"] == 101
    direct = (await client.post("/classes/CloudDirectOnly", json={"n": 1}, headers=headers)).json()
    assert (await client.get("/classes/CloudDirectOnly", headers=headers)).json() == {
        "code": 119, "error": "fetch these by id"}
    assert (await client.get(f"/classes/CloudDirectOnly/{direct['objectId']}", headers=headers)).json()["n"] == 1


async def test_sync_trigger_validators(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    missing = await client.post("/classes/CloudRating", json={"owner": "x"}, headers=headers)
    assert missing.json() == {"code": 142, "error": "Validation failed. Please specify data for stars."}
    typed = await client.post("/classes/CloudRating", json={"stars": "five"}, headers=headers)
    assert typed.json() == {"code": 142, "error": "Validation failed. Invalid type for stars. Expected: number"}
