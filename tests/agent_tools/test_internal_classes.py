"""Ballast's internal classes are not the app's: no Parse API route changes them, even with the master key.

Also kept out of ``/schemas`` (Parse Dashboard, ``Parse.Schema.all()``); those holding token or password
hashes are not even readable. Both engines.
"""

from __future__ import annotations

from typing import Any

from backend.services.shared.internal import INTERNAL_CLASSES, SECRET_CLASSES
from tests.agent_tools.conftest import Gateway, Seed


def _refused(answer: Any) -> bool:
    return bool(answer.status_code == 400 and answer.json()["error"].startswith("internal.class"))


async def _pending(gateway: Gateway, seed: Seed) -> tuple[str, str]:
    counter = await seed("Counter", hits=0)
    _, token = await gateway.agent("bumper", grants=["*"])
    pending = await gateway.call(token, "write", "delete_object", {"className": "Counter",
                                                                   "objectId": counter["objectId"]})
    return counter["objectId"], pending.json()["approval"]["id"]


async def test_the_master_key_cannot_approve_by_editing_an_approval(gateway: Gateway, seed: Seed) -> None:
    object_id, approval_id = await _pending(gateway, seed)
    http, master = gateway.http, gateway.admin_headers
    attempts = [
        await http.put(f"/classes/_Approval/{approval_id}", json={"status": "approved"}, headers=master),
        await http.delete(f"/classes/_Approval/{approval_id}", headers=master),
        await http.post("/classes/_Approval", json={"status": "approved"}, headers=master),
    ]
    assert all(_refused(answer) for answer in attempts), [a.text for a in attempts]
    batch = {"requests": [{"method": "PUT", "path": f"/parse/classes/_Approval/{approval_id}",
                           "body": {"status": "approved"}}]}
    answered = (await http.post("/batch", json=batch, headers=master)).json()
    assert answered[0]["error"]["error"].startswith("internal.class"), answered
    assert (await gateway.admin("GET", f"/approvals/{approval_id}")).json()["status"] == "pending"
    assert (await http.get(f"/classes/Counter/{object_id}", headers=master)).status_code == 200
    assert (await gateway.verify())["ok"] is True


async def test_no_internal_class_is_written_listed_or_dropped(gateway: Gateway, seed: Seed) -> None:
    await _pending(gateway, seed)
    await gateway.tools.admins.create("alice", "a long enough secret")
    http, master = gateway.http, gateway.admin_headers
    listed = {entry["className"] for entry in (await http.get("/schemas", headers=master)).json()["results"]}
    assert "Counter" in listed and not listed & INTERNAL_CLASSES
    for name in sorted(INTERNAL_CLASSES):
        assert _refused(await http.post(f"/classes/{name}", json={"x": 1}, headers=master)), name
        assert _refused(await http.get(f"/schemas/{name}", headers=master)), name
        assert _refused(await http.put(f"/schemas/{name}", json={"classLevelPermissions": {}}, headers=master)), name
        assert _refused(await http.delete(f"/schemas/{name}", headers=master)), name
        assert _refused(await http.delete(f"/purge/{name}", headers=master)), name
    for name in sorted(SECRET_CLASSES):
        found = await http.get(f"/classes/{name}", headers=master)
        assert _refused(found), (name, found.text)
    calls = (await http.get("/classes/_ToolCall", headers=master)).json()["results"]
    assert len(calls) == 1  # the audit is readable with the master key, never writable
    assert (await gateway.admin("GET", "/admins")).json()["results"][0]["username"] == "alice"
    assert (await gateway.verify())["ok"] is True
