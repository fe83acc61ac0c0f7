"""An agent acting for a user: only what both may do; the audit names user -> agent -> run."""

from __future__ import annotations

from tests.agent_tools.conftest import AGENT, Gateway, Seed


async def _user(gateway: Gateway, headers: dict[str, str]) -> tuple[str, str]:
    signed = await gateway.http.post("/users", json={"username": "ann", "password": "pw-ann-123"}, headers=headers)
    assert signed.status_code == 201, signed.text
    return signed.json()["objectId"], signed.json()["sessionToken"]


async def _delegate(gateway: Gateway, headers: dict[str, str], session: str, agent: str,
                    **more: object) -> dict[str, str]:
    """The user grants the agent a delegation: the header the agent then sends."""
    granted = await gateway.http.post(f"{AGENT}/delegations", json={"agent": agent, **more},
                                      headers=headers | {"X-Parse-Session-Token": session})
    assert granted.status_code == 201, granted.text
    assert "tokenHash" not in granted.text
    return {"X-Ballast-Delegation": granted.json()["token"]}


async def test_delegated_reads_see_only_what_both_may_see(gateway: Gateway, seed: Seed,
                                                           headers: dict[str, str]) -> None:
    user_id, session = await _user(gateway, headers)
    both = await seed("Ticket", subject="both", ACL={user_id: {"read": True}, "role:support": {"read": True}})
    await seed("Ticket", subject="user only", ACL={user_id: {"read": True}})
    await seed("Ticket", subject="agent only", ACL={"role:support": {"read": True}})
    agent_id, token = await gateway.agent("helper", roles=["support"])
    alone = await gateway.call(token, "read", "query_objects", {"className": "Ticket", "order": "subject"})
    assert [t["subject"] for t in alone.json()["result"]["results"]] == ["agent only", "both"]
    delegation = await _delegate(gateway, headers, session, "helper")
    acting = await gateway.call(token, "read", "query_objects", {"className": "Ticket"},
                                headers=delegation | {"X-Ballast-Run-Id": "r-ann"})
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
    acting = await _delegate(gateway, headers, session, "helper")
    refused = await gateway.call(token, "write", "update_object", {
        "className": "Ticket", "objectId": mine["objectId"], "fields": {"subject": "changed"}}, headers=acting)
    assert refused.status_code == 404
    assert (await gateway.last_record())["userId"] == user_id
    stored = await gateway.http.get(f"/classes/Ticket/{mine['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["subject"] == "mine"


async def test_the_users_session_on_a_tool_call_is_refused(gateway: Gateway, headers: dict[str, str]) -> None:
    _, session = await _user(gateway, headers)
    _, token = await gateway.agent("helper")
    for sent in (session, "r:forged"):
        answer = await gateway.call(token, "read", "list_classes", headers={"X-Parse-Session-Token": sent})
        assert answer.status_code == 400 and answer.json()["rule"] == "delegation.session_header"
        assert (await gateway.last_record())["rule"] == "delegation.session_header"
    assert len(await gateway.records()) == 2


async def test_a_delegation_holds_only_for_its_agent_and_only_at_the_gateway(gateway: Gateway, seed: Seed,
                                                                             headers: dict[str, str]) -> None:
    user_id, session = await _user(gateway, headers)
    await seed("Ticket", subject="mine", ACL={user_id: {"read": True}, "role:support": {"read": True}})
    _, token = await gateway.agent("helper", roles=["support"])
    _, other = await gateway.agent("other", roles=["support"])
    delegation = await _delegate(gateway, headers, session, "helper", minutes=5)
    # useless on the Parse API: it is no session
    on_parse = await gateway.http.get("/classes/Ticket", headers=headers | {
        "X-Parse-Session-Token": delegation["X-Ballast-Delegation"]})
    assert on_parse.status_code == 400 and on_parse.json()["code"] == 209
    stolen = await gateway.call(other, "read", "query_objects", {"className": "Ticket"}, headers=delegation)
    assert stolen.status_code == 401 and stolen.json()["rule"] == "delegation.invalid"
    ok = await gateway.call(token, "read", "query_objects", {"className": "Ticket"}, headers=delegation)
    assert [t["subject"] for t in ok.json()["result"]["results"]] == ["mine"]
    assert (await gateway.last_record())["userId"] == user_id
    as_user = headers | {"X-Parse-Session-Token": session}
    listed = await gateway.http.get(f"{AGENT}/delegations", headers=as_user)
    [shown] = listed.json()["results"]
    revoked = await gateway.http.delete(f"{AGENT}/delegations/{shown['id']}", headers=as_user)
    assert revoked.json()["revoked"] is True
    after = await gateway.call(token, "read", "query_objects", {"className": "Ticket"}, headers=delegation)
    assert after.status_code == 401 and after.json()["rule"] == "delegation.invalid"
    assert (await gateway.verify())["ok"] is True


async def test_only_the_user_delegates(gateway: Gateway, headers: dict[str, str]) -> None:
    _, session = await _user(gateway, headers)
    _, token = await gateway.agent("helper")
    body = {"agent": "helper"}
    by_agent = await gateway.http.post(f"{AGENT}/delegations", json=body, headers=headers | {
        "X-Parse-Session-Token": session, "Authorization": f"Bearer {token}"})
    assert by_agent.status_code == 403 and by_agent.json()["error"].startswith("delegation.agent_credentials")
    anonymous = await gateway.http.post(f"{AGENT}/delegations", json=body, headers=headers)
    assert anonymous.status_code == 400 and anonymous.json()["code"] == 209
    master = await gateway.http.post(f"{AGENT}/delegations", json=body, headers=gateway.admin_headers)
    assert master.status_code == 400
    stored = await gateway.http.get("/classes/_Delegation", headers=gateway.admin_headers)
    assert stored.status_code == 400 and stored.json()["error"].startswith("internal.class")
