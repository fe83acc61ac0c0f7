"""Every credential derived from an agent dies with its source, on the next call, on every instance (both engines).

OAuth access tokens and run tokens carry the agent's generation (and an access token the gateway token it
came from); instance B revokes, rotates or suspends, and instance A refuses the very next call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.agent_tools.conftest import Gateway, Seed
from tests.agent_tools.test_instances import other  # noqa: F401 - the second-instance fixture

INTENT = {"name": "lookup", "tools": ["get_object", "update_object"], "classes": ["Order"], "maxObjects": 10}


async def _access_token(gateway: Gateway, agent_id: str, secret: str) -> str:
    answer = await gateway.http.post("http://127.0.0.1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": agent_id, "client_secret": secret,
        "scope": "tools:read tools:write"})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def _run_token(gateway: Gateway, agent: str) -> str:
    if (await gateway.admin("GET", "/intents/lookup")).status_code != 200:
        assert (await gateway.admin("POST", "/intents", json=INTENT)).status_code == 201
    minted = await gateway.admin("POST", "/intents/lookup/runs", json={"agent": agent})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["token"]
    return token


Source = Callable[[Gateway, str], Awaitable[object]]
SOURCES: dict[str, Source] = {
    "revoke": lambda admin, agent_id: admin.admin("DELETE", f"/agents/{agent_id}/tokens"),
    "rotate": lambda admin, agent_id: admin.admin("POST", f"/agents/{agent_id}/tokens", json={"revokeOthers": True}),
    "suspend": lambda admin, agent_id: admin.admin("POST", f"/agents/{agent_id}/suspend"),
}


@pytest.mark.parametrize("how", sorted(SOURCES))
async def test_derived_tokens_die_on_the_next_call_on_another_instance(
        gateway: Gateway, other: Gateway, seed: Seed, how: str) -> None:  # noqa: F811
    order = await seed("Order", n=1)
    agent_id, secret = await gateway.agent("roamer", grants=["*"])
    access, run = await _access_token(gateway, agent_id, secret), await _run_token(gateway, "roamer")
    ref = {"className": "Order", "objectId": order["objectId"]}
    for token in (access, run):  # both work, and instance A now holds the agent's row
        assert (await gateway.call(token, "read", "get_object", ref)).status_code == 200
    await SOURCES[how](other, agent_id)
    if how == "suspend":
        await other.admin("POST", f"/agents/{agent_id}/resume")  # resuming revives no old credential
    for token in (access, run):
        read = await gateway.call(token, "read", "get_object", ref)
        assert read.status_code == 401 and read.json()["rule"] == "token.revoked", read.text
        write = await gateway.call(token, "write", "update_object", ref | {"fields": {"n": 2}})
        assert write.status_code == 401 and write.json()["rule"] == "token.revoked", write.text
    stored = await gateway.http.get(f"/classes/Order/{order['objectId']}", headers=gateway.admin_headers)
    assert stored.json()["n"] == 1
    records = await gateway.records(agentId=agent_id)
    assert [r["outcome"] for r in records] == ["ok", "ok", "blocked", "blocked", "blocked", "blocked"]
    assert (await gateway.verify())["ok"]


async def test_revoking_one_gateway_token_ends_every_access_token_until_a_fresh_one(gateway: Gateway, other: Gateway,  # noqa: F811
                                                                      seed: Seed) -> None:
    order = await seed("Order", n=1)
    agent_id, first = await gateway.agent("twin", grants=["*"])
    second = (await gateway.admin("POST", f"/agents/{agent_id}/tokens", json={})).json()["token"]
    from_first, from_second = (await _access_token(gateway, agent_id, first),
                               await _access_token(gateway, agent_id, second))
    shown = (await gateway.admin("GET", f"/agents/{agent_id}")).json()["tokens"]
    assert all("hash" not in entry for entry in shown)
    await other.admin("DELETE", f"/agents/{agent_id}/tokens", params={"tokenId": shown[0]["id"]})
    ref = {"className": "Order", "objectId": order["objectId"]}
    assert (await gateway.call(from_first, "read", "get_object", ref)).json()["rule"] == "token.revoked"
    # a revocation moves the generation: every derived token ends; a fresh one from the live token works
    assert (await gateway.call(from_second, "read", "get_object", ref)).status_code == 401
    fresh = await _access_token(gateway, agent_id, second)
    assert (await gateway.call(fresh, "read", "get_object", ref)).status_code == 200
