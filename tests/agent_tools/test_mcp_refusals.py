"""MCP requests refused before any tool runs: each leaves one bounded audit record, never one per batched call.

Before: an anonymous POST /mcp holding a JSON-RPC batch of 3,000 ``tools/call`` messages wrote 3,000 hash-chained
records and held the writer for 20 s; a valid token's malformed ``tools/call`` (arguments not an object, no name,
not JSON) was answered by the protocol layer and left no record at all; MCP auth failures were not rate limited.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from tests.agent_tools.conftest import Gateway

MCP = "http://127.0.0.1/mcp"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _call(number: int, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": params}


async def _records(gateway: Gateway) -> int:
    report = await gateway.verify()
    assert report["ok"] is True, report
    return int(report["records"])


async def test_an_anonymous_batch_is_one_small_record(gateway: Gateway) -> None:
    before = await _records(gateway)
    batch = [_call(n, {"name": "query_objects", "arguments": {"className": "X", "n": n}}) for n in range(3000)]
    started = time.monotonic()
    answer = await gateway.http.post(MCP, content=orjson.dumps(batch), headers=ACCEPT)
    assert answer.status_code == 401
    assert time.monotonic() - started < 5
    assert await _records(gateway) == before + 1
    record = await gateway.last_record()
    assert (record["tool"], record["rule"], record["decision"]) == ("(batch)", "token.unknown", "deny")
    assert record["input"]["calls"] == 3000 and len(orjson.dumps(record["input"])) < 4096


async def test_anonymous_failures_from_one_address_are_rate_limited(gateway: Gateway) -> None:
    statuses = [(await gateway.http.post(MCP, json=_call(n, {"name": "list_classes"}), headers=ACCEPT)).status_code
                for n in range(40)]
    assert statuses[0] == 401 and statuses[-1] == 429
    # the lockout is the address's, shared with the REST face
    rest = await gateway.call(None, "read", "list_classes")
    assert rest.status_code == 429, rest.text


async def _session(gateway: Gateway, token: str) -> dict[str, str]:
    headers = ACCEPT | {"Authorization": f"Bearer {token}", "mcp-protocol-version": "2025-06-18"}
    hello = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "red", "version": "1"}}}
    answer = await gateway.http.post(MCP, json=hello, headers=headers)
    assert answer.status_code == 200, answer.text
    return headers | {"mcp-session-id": answer.headers["mcp-session-id"]}


async def test_malformed_calls_of_a_valid_token_each_leave_one_record(gateway: Gateway,
                                                                    client: httpx.AsyncClient) -> None:
    agent_id, token = await gateway.agent("malformed", grants=["read:*"])
    headers = await _session(gateway, token)
    bodies: list[bytes] = [
        orjson.dumps(_call(1, {"name": "query_objects", "arguments": "not an object"})),
        orjson.dumps(_call(2, {"name": 5})),
        orjson.dumps({"id": 3, "method": "tools/call", "params": {"name": "list_classes"}}),  # no "jsonrpc"
        b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {',  # not JSON
    ]
    for body in bodies:
        before = await _records(gateway)
        answer = await gateway.http.post(MCP, content=body, headers=headers)
        assert answer.status_code in (200, 400), answer.text
        assert "error" in answer.json(), answer.text
        assert await _records(gateway) == before + 1, body
        record = await gateway.last_record()
        assert (record["agentId"], record["rule"], record["outcome"]) == (agent_id, "mcp.invalid_request", "blocked")
    # a well-formed call is the gateway's one record, not two
    before = await _records(gateway)
    answer = await gateway.http.post(MCP, json=_call(5, {"name": "list_classes", "arguments": {}}), headers=headers)
    assert answer.status_code == 200 and "result" in answer.json(), answer.text
    assert await _records(gateway) == before + 1
    assert (await gateway.last_record())["tool"] == "list_classes"
    listed = await gateway.http.post(MCP, json={"jsonrpc": "2.0", "id": 6, "method": "tools/list"}, headers=headers)
    assert listed.status_code == 200 and await _records(gateway) == before + 1


async def test_an_integer_past_64_bits_over_mcp_still_leaves_its_one_record(gateway: Gateway) -> None:
    # REST's parser reads 1e30 as a double; the MCP SDK's keeps a Python int, which the audit could not
    # serialise: the call answered {"code": 0, "message": "Integer exceeds 64-bit range"} and left no record
    agent_id, token = await gateway.agent("numbers", grants=["read:*"])
    headers = await _session(gateway, token)
    huge = b"1000000000000000000000000000000"
    for arguments in (b'{"className": "X", "limit": ' + huge + b"}", b'{"className": "X", "where": {"k": ' + huge
                                                                      + b"}}"):
        before = await _records(gateway)
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "query_objects", ' \
               b'"arguments": ' + arguments + b"}}"
        answer = await gateway.http.post(MCP, content=body, headers=headers)
        assert answer.status_code == 200 and "result" in answer.json(), answer.text
        assert await _records(gateway) == before + 1
        record = await gateway.last_record()
        assert record["agentId"] == agent_id and record["tool"] == "query_objects"
        assert huge.decode() in orjson.dumps(record["input"]).decode()  # kept as its decimal text


async def test_an_authenticated_batch_is_refused_whole_with_one_record(gateway: Gateway,
                                                                      client: httpx.AsyncClient) -> None:
    # MCP 2025-06-18 removed JSON-RPC batching; before, a batch mixing calls the protocol layer ran and refused
    # left records only for the calls that ran. Now the whole batch is refused before any call: one record.
    agent_id, token = await gateway.agent("batcher", grants=["read:*", "write:*"])
    headers = await _session(gateway, token)
    create = {"name": "create_object", "arguments": {"className": "Batched", "fields": {"n": 1}}}
    batch = [_call(1, create), _call(2, {"name": 5}), _call(3, {"name": "list_classes", "arguments": {}}),
             {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    for body in (batch, batch[:1], []):
        before = await _records(gateway)
        answer = await gateway.http.post(MCP, content=orjson.dumps(body), headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == -32600, answer.text
        assert await _records(gateway) == before + 1
        record = await gateway.last_record()
        assert (record["agentId"], record["tool"], record["rule"]) == (agent_id, "(batch)", "mcp.batch")
        assert record["input"]["calls"] == sum(1 for m in body if m.get("method") == "tools/call")
    found = await client.get("/classes/Batched", headers=gateway.admin_headers)
    assert found.json().get("results", []) == [], found.text  # the batched create never ran
