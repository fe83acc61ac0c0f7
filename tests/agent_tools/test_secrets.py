"""No tool ever returns a secret: every built-in tool, over REST and with delegation-free full grants."""

from __future__ import annotations

import httpx

from tests.agent_tools.conftest import Gateway

PASSWORD = "hunter2-very-secret"
FORBIDDEN = ("sessionToken", "_hashed_password", "authData", "_auth_data", '"password"', PASSWORD, "r:",
             "_perishable_token", "_email_verify_token", "_password_history", "_failed_login_count")


async def test_no_secret_appears_in_any_tool_result(gateway: Gateway, client: httpx.AsyncClient,
                                                    master_headers: dict[str, str]) -> None:
    signed = await client.post("/users", json={"username": "ann", "password": PASSWORD, "email": "ann@example.com"},
                               headers=master_headers)
    assert signed.status_code == 201, signed.text
    user, session = signed.json()["objectId"], signed.json()["sessionToken"]
    anonymous = await client.post("/users", json={"authData": {"anonymous": {"id": "0a1b2c3d-anon"}}},
                                  headers=master_headers)
    assert anonymous.status_code == 201, anonymous.text
    pointer = {"__type": "Pointer", "className": "_User", "objectId": user}
    note = await client.post("/classes/Note", json={"text": "hi", "owner": pointer}, headers=master_headers)
    assert note.status_code == 201
    note_id = note.json()["objectId"]
    _, token = await gateway.agent("auditor", grants=["*"])
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("read", "list_classes", {}), ("read", "describe_class", {"className": "_User"}),
        ("read", "query_objects", {"className": "_User"}),
        ("read", "query_objects", {"className": "_User", "keys": ["sessionToken", "authData"]}),
        ("read", "query_objects", {"className": "_User", "where": {"password": PASSWORD}}),
        ("read", "query_objects", {"className": "_Session"}),
        ("read", "query_objects", {"className": "Note", "include": ["owner"]}),
        ("read", "get_object", {"className": "_User", "objectId": user}),
        ("read", "get_object", {"className": "Note", "objectId": note_id, "include": ["owner"]}),
        ("read", "count_objects", {"className": "_User"}),
        ("write", "create_object", {"className": "Note", "fields": {"text": "new", "owner": pointer}}),
        ("write", "update_object", {"className": "Note", "objectId": note_id, "fields": {"text": "changed"}}),
        ("write", "update_object", {"className": "_User", "objectId": user, "fields": {"password": "x"}}),
        ("write", "bulk_update", {"className": "Note", "where": {}, "fields": {"text": "bulk"}}),
        ("write", "delete_object", {"className": "Note", "objectId": note_id}),
        ("write", "bulk_delete", {"className": "Note", "where": {}, "limit": 10}),
        ("write", "run_cloud_function", {"name": "nothing"}),
        ("read", "list_jobs", {}), ("read", "job_status", {"runId": "none"}),
        ("write", "trigger_job", {"name": "nothing"}),
        ("read", "greet_customer", {"name": "ann"}),  # the app's own tool (tests/sample_cloud_functions/tools.py)
    ]
    seen: set[str] = set()
    approval = None
    for kind, tool, body in calls:
        answer = await gateway.call(token, kind, tool, body)
        seen.add(tool)
        # refusals may name the field they refuse; no answer ever holds a secret's value
        names = FORBIDDEN if answer.status_code < 300 else (PASSWORD, "r:", '"_hashed_password"')
        for secret in names + (session,):
            assert secret not in answer.text, (tool, body, answer.text)
        if tool == "delete_object":
            assert answer.status_code == 202, answer.text
            approval = answer.json()["approval"]["id"]
            # the preview a human sees is redacted the same way
            assert "ann@example.com" not in answer.text
    polled = await gateway.call(token, "read", "approval_status", {"approvalId": approval})
    seen.add("approval_status")
    assert polled.status_code == 200 and all(secret not in polled.text for secret in FORBIDDEN + (session,))
    assert seen == {tool.name for tool in gateway.tools.registry}  # every tool was tried
    for record in await gateway.records():  # nor does the audit keep any
        assert PASSWORD not in str(record) and session not in str(record)
