"""/hooks on both engines: Parse's CRUD shapes and 143s, and webhooks really called over HTTP.

The webhook target is a real HTTP server on loopback, which the test allows with
BALLAST_WEBHOOK_ALLOW_PRIVATE (by default Ballast refuses private targets).
"""

from __future__ import annotations

import httpx
import pytest

from backend.config import Settings
from tests.cloud.conftest import Target

WEBHOOK_KEY = "test-webhook-key"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": True, "webhook_key": WEBHOOK_KEY})


async def test_function_hook_crud_as_parse(client: httpx.AsyncClient, master_headers: dict[str, str],
                                           target: Target) -> None:
    hook = {"functionName": "remote", "url": f"{target.url}/remote"}
    assert (await client.post("/hooks/functions", json=hook, headers=master_headers)).json() == hook
    again = await client.post("/hooks/functions", json=hook, headers=master_headers)
    assert again.json() == {"code": 143, "error": "function name: remote already exists"}
    assert (await client.get("/hooks/functions", headers=master_headers)).json() == [hook]
    assert (await client.get("/hooks/functions/remote", headers=master_headers)).json() == hook
    moved = {"url": f"{target.url}/moved"}
    assert (await client.put("/hooks/functions/remote", json=moved, headers=master_headers)).json() == {
        "functionName": "remote", **moved}
    missing = await client.put("/hooks/functions/nope", json=moved, headers=master_headers)
    assert (missing.status_code, missing.json()) == (400, {"code": 143, "error": "no function named: nope is defined"})
    bad = await client.post("/hooks/functions", json={"functionName": "x"}, headers=master_headers)
    assert bad.json() == {"code": 143, "error": "invalid hook declaration"}
    gone = await client.put("/hooks/functions/remote", json={"__op": "Delete"}, headers=master_headers)
    assert gone.json() == {}
    assert (await client.get("/hooks/functions", headers=master_headers)).json() == []
    assert (await client.get("/hooks/functions/remote", headers=master_headers)).json()["code"] == 143


async def test_trigger_hook_crud_as_parse(client: httpx.AsyncClient, master_headers: dict[str, str],
                                          target: Target) -> None:
    hook = {"className": "Order", "triggerName": "afterSave", "url": f"{target.url}/after"}
    assert (await client.post("/hooks/triggers", json=hook, headers=master_headers)).json() == hook
    again = await client.post("/hooks/triggers", json=hook, headers=master_headers)
    assert again.json() == {"code": 143, "error": "class Order already has trigger afterSave"}
    assert (await client.get("/hooks/triggers", headers=master_headers)).json() == [hook]
    assert (await client.get("/hooks/triggers/Order/afterSave", headers=master_headers)).json() == hook
    missing = await client.get("/hooks/triggers/Nope/afterSave", headers=master_headers)
    assert missing.json() == {"code": 143, "error": "class Nope does not exist"}
    for bad in ({**hook, "triggerName": "beforeEverything"}, {**hook, "className": "no/such class"},
                {**hook, "className": "_SecurityEvent"}, {**hook, "className": "_Hooks"},
                {"functionName": "x" * 200, "url": hook["url"]}, {"functionName": "f", "url": 5}):
        refused = await client.post("/hooks/triggers", json=bad, headers=master_headers)
        assert refused.json()["code"] == 143, bad
    assert (await client.put("/hooks/triggers/Order/afterSave", json={"__op": "Delete"},
                             headers=master_headers)).json() == {}
    assert (await client.get("/hooks/triggers", headers=master_headers)).json() == []


async def test_sessions_take_only_an_after_logout_webhook(client: httpx.AsyncClient, master_headers: dict[str, str],
                                                          target: Target) -> None:
    """As Parse: a session changes only through log-in and log-out, so no save or delete hook may watch it."""
    for kind in ("beforeSave", "afterSave", "beforeDelete", "afterDelete"):
        hook = {"className": "_Session", "triggerName": kind, "url": f"{target.url}/session"}
        refused = await client.post("/hooks/triggers", json=hook, headers=master_headers)
        assert (refused.status_code, refused.json()) == (400, {
            "code": 143, "error": "only the afterLogout trigger may be set on the _Session class"})
        moved = await client.put(f"/hooks/triggers/_Session/{kind}", json={"url": hook["url"]}, headers=master_headers)
        assert moved.json()["code"] == 143
    assert (await client.get("/hooks/triggers", headers=master_headers)).json() == []


async def test_hooks_need_the_master_key(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/hooks/functions"), ("GET", "/hooks/triggers"), ("POST", "/hooks/functions"),
                         ("PUT", "/hooks/functions/x"), ("GET", "/hooks/triggers/A/beforeSave")):
        refused = await client.request(method, path, json={"functionName": "x", "url": "http://example.com"},
                                       headers=headers)
        assert (refused.status_code, refused.json()) == (403, {"error": "unauthorized: master key is required"})
    assert (await client.get("/classes/_Hooks", headers=headers)).json()["code"] == 119


async def test_a_function_webhook_is_called_with_parse_body_and_key(
        client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str], target: Target) -> None:
    await client.post("/hooks/functions", json={"functionName": "remote", "url": f"{target.url}/fn"},
                      headers=master_headers)
    target.answers["/fn"] = b'{"success": {"answer": 42}}'
    ran = await client.post("/functions/remote", json={"q": "life"}, headers=headers)
    assert ran.json() == {"result": {"answer": 42}}
    path, sent_headers, body = target.calls[-1]
    assert sent_headers["X-Parse-Webhook-Key"] == WEBHOOK_KEY
    assert (body["functionName"], body["params"], body["master"]) == ("remote", {"q": "life"}, False)
    assert "headers" not in body  # the caller's headers carry keys and tokens: never forwarded
    target.answers["/fn"] = b'{"error": "remote says no"}'
    refused = await client.post("/functions/remote", json={}, headers=headers)
    assert refused.json() == {"code": 141, "error": "remote says no"}
    target.answers["/fn"] = b"not json"
    assert (await client.post("/functions/remote", json={}, headers=headers)).json() == {
        "code": 141, "error": "Malformed response"}
    # a function the app's cloud code defines stays the app's own
    await client.post("/hooks/functions", json={"functionName": "hello", "url": f"{target.url}/fn"},
                      headers=master_headers)
    assert (await client.post("/functions/hello", json={"name": "B"}, headers=headers)).json() == {
        "result": "Hello, B!"}


async def test_trigger_webhooks_change_and_refuse_saves(
        client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str], target: Target) -> None:
    for kind in ("beforeSave", "afterSave", "beforeDelete"):
        hook = {"className": "Hooked", "triggerName": kind, "url": f"{target.url}/{kind}"}
        await client.post("/hooks/triggers", json=hook, headers=master_headers)
    target.answers["/beforeSave"] = b'{"success": {"title": "from the hook", "createdAt": "x"}}'
    made = (await client.post("/classes/Hooked", json={"title": "mine"}, headers=headers)).json()
    stored = (await client.get(f"/classes/Hooked/{made['objectId']}", headers=headers)).json()
    assert stored["title"] == "from the hook"
    before = next(body for path, _, body in target.calls if path == "/beforeSave")
    assert (before["triggerName"], before["object"]["className"], before["object"]["title"]) == (
        "beforeSave", "Hooked", "mine")
    after = next(body for path, _, body in target.calls if path == "/afterSave")
    assert after["object"]["objectId"] == made["objectId"]
    target.answers["/beforeSave"] = b'{"success": {}}'  # an answer that leaves fields out deletes none
    await client.put(f"/classes/Hooked/{made['objectId']}", json={"extra": 1}, headers=headers)
    stored = (await client.get(f"/classes/Hooked/{made['objectId']}", headers=headers)).json()
    assert (stored["title"], stored["extra"]) == ("from the hook", 1)
    target.answers["/beforeDelete"] = b'{"error": {"code": 119, "error": "kept by the hook"}}'
    refused = await client.delete(f"/classes/Hooked/{made['objectId']}", headers=headers)
    assert refused.json() == {"code": 119, "error": "kept by the hook"}
    assert (await client.get(f"/classes/Hooked/{made['objectId']}", headers=headers)).status_code == 200


async def test_private_targets_are_refused_by_default(client: httpx.AsyncClient, master_headers: dict[str, str],
                                                      settings: Settings) -> None:
    from backend.app import create_app

    strict = create_app(settings.model_copy(update={"webhook_allow_private": False}))
    async with strict.router.lifespan_context(strict), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=strict), base_url="http://127.0.0.1/parse") as http:
        for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/",
                    "http://[::1]/x", "http://localhost/x", "ftp://example.com/x", "file:///etc/passwd"):
            refused = await http.post("/hooks/functions", json={"functionName": "f", "url": url},
                                      headers=master_headers)
            assert refused.json()["code"] == 143, url
        assert (await http.get("/hooks/functions", headers=master_headers)).json() == []
