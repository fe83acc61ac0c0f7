"""Who may change what, answered as Parse Server 9 answers it (issue 17), both engines."""

from __future__ import annotations

import httpx

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}


def as_user(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


async def test_public_write_without_public_read_may_update_and_delete(client: httpx.AsyncClient) -> None:
    body = {"score": 1, "ACL": {"*": {"write": True}}}
    object_id = (await client.post("/classes/DropBox", json=body, headers=H)).json()["objectId"]
    assert (await client.get(f"/classes/DropBox/{object_id}", headers=H)).json()["code"] == 101
    bumped = await client.put(f"/classes/DropBox/{object_id}", json={"score": {"__op": "Increment", "amount": 4}},
                              headers=H)
    assert bumped.status_code == 200, bumped.text
    assert set(bumped.json()) == {"updatedAt"}, "a caller who may not read learns no stored value"
    assert (await client.get(f"/classes/DropBox/{object_id}", headers=MASTER)).json()["score"] == 5
    assert (await client.delete(f"/classes/DropBox/{object_id}", headers=H)).json() == {}
    assert (await client.get(f"/classes/DropBox/{object_id}", headers=MASTER)).json()["code"] == 101


async def test_public_read_without_write_still_refuses_writes(client: httpx.AsyncClient) -> None:
    body = {"score": 1, "ACL": {"*": {"read": True}}}
    object_id = (await client.post("/classes/Shown", json=body, headers=H)).json()["objectId"]
    for answer in (await client.put(f"/classes/Shown/{object_id}", json={"score": 2}, headers=H),
                   await client.delete(f"/classes/Shown/{object_id}", headers=H)):
        assert answer.status_code == 404 and answer.json()["code"] == 101
    assert (await client.get(f"/classes/Shown/{object_id}", headers=H)).json()["score"] == 1


async def test_changing_or_deleting_another_user_is_206(client: httpx.AsyncClient) -> None:
    gina = (await client.post("/users", json={"username": "gina", "password": "p"}, headers=H)).json()
    hank = (await client.post("/users", json={"username": "hank", "password": "p"}, headers=H)).json()
    target = gina["objectId"]
    attempts = [
        await client.put(f"/users/{target}", json={"username": "x"}, headers=as_user(hank["sessionToken"])),
        await client.put(f"/classes/_User/{target}", json={"username": "x"}, headers=as_user(hank["sessionToken"])),
        await client.delete(f"/users/{target}", headers=as_user(hank["sessionToken"])),
        await client.put(f"/users/{target}", json={"username": "x"}, headers=H),
        await client.delete(f"/users/{target}", headers=H),
        await client.put("/users/NoSuchUser", json={"username": "x"}, headers=as_user(hank["sessionToken"])),
    ]
    for answer in attempts:
        assert answer.status_code == 400 and answer.json()["code"] == 206, answer.text
    batch = await client.post("/batch", json={"requests": [
        {"method": "PUT", "path": f"/parse/classes/_User/{target}", "body": {"username": "x"}}]},
        headers=as_user(hank["sessionToken"]))
    assert batch.json()[0]["error"]["code"] == 206
    me = (await client.get(f"/users/{target}", headers=MASTER)).json()
    assert me["username"] == "gina"
    assert (await client.put("/users/NoSuchUser", json={"username": "x"}, headers=MASTER)).json()["code"] == 101
