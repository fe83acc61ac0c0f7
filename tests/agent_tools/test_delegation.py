"""An agent acting for a user: only what both may do; the audit names user -> agent -> run."""

from __future__ import annotations

from tests.agent_tools.conftest import Gateway, Seed


async def _user(gateway: Gateway, headers: dict[str, str]) -> tuple[str, str]:
    signed = await gateway.http.post("/users", json={"username": "ann", "password": "pw-ann-123"}, headers=headers)
    assert signed.status_code == 201, signed.text
    return signed.json()["objectId"], signed.json()["sessionToken"]


async def test_delegated_reads_see_only_what_both_may_see(gateway: Gateway, seed: Seed,
                                                           headers: dict[str, str]) -> None:
    user_id, session = await _user(gateway, headers)
    both = await seed("Ticket", subject="both", ACL={user_id: {"read": True}, "role:support": {"read": True}})
    await seed("Ticket", subject="user only", ACL={user_id: {"read": True}})
    await seed("Ticket", subject="agent only", ACL={"role:support": {"read": True}})
    agent_id, token = await gateway.agent("helper", roles=["support"])
    alone = await gateway.call(token, "read", "query_objects", {"className": "Ticket", "order": "subject"})
    assert [t["subject"] for t in alone.json()["result"]["results"]] == ["agent only", "both"]
    acting = await gateway.call(token, "read", "query_objects", {"className": "Ticket"},
                                headers={"X-Parse-Session-Token": session, "X-Ballast-Run-Id": "r-ann"})
    assert [t["subject"] for t in acting.json()["result"]["results"]] == ["both"]
    record = await gateway.last_record()
    assert (record["userId"], record["agentId"], record["runId"]) == (user_id, agent_id, "r-ann")
    assert [ref["objectId"] for ref in record["context"]] == [both["objectId"]]


async def test_delegated_writes_need_the_agents_right_too(gateway: Gateway, seed: Seed,
                                                          headers: dict[str, str]) -> None:
    user_id, session = await _user(gateway, headers)
    mine = await seed("Ticket", subject="mine", ACL={user_id: {"read": True, "write": True},
                                                     "role:support": {"read": True}})
    _, token = await gateway.agent("helper", roles=["support"], grants=["*"])
    acting = {"X-Parse-Session-Token": session}
    refused = await gateway.call(token, "write", "update_object", {
        "className": "Ticket", "objectId": mine["objectId"], "fields": {"subject": "changed"}}, headers=acting)
    assert refused.status_code == 404
    assert (await gateway.last_record())["userId"] == user_id
    stored = await gateway.http.get(f"/classes/Ticket/{mine['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["subject"] == "mine"


async def test_an_invalid_user_session_is_refused(gateway: Gateway) -> None:
    _, token = await gateway.agent("helper")
    answer = await gateway.call(token, "read", "list_classes", headers={"X-Parse-Session-Token": "r:forged"})
    assert answer.status_code == 401 and answer.json()["rule"] == "delegation.session"
    assert (await gateway.last_record())["rule"] == "delegation.session"
