"""What a cloud function sees of the caller's headers: everything but a credential, whichever face sent it."""

from __future__ import annotations

import httpx
import orjson
import pytest

from backend.api import credentials
from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

SECRET = "s3cret-value"  # every credential header below carries it; it must never come back
CREDENTIALS = {
    "X-Parse-REST-API-Key": SECRET, "X-Parse-JavaScript-Key": SECRET, "X-Parse-Client-Key": SECRET,
    "X-Parse-Windows-Key": SECRET, "X-Ballast-Admin-Session": SECRET, "X-Ballast-Delegation": SECRET,
    "X-Ballast-Run-Id": SECRET, "Authorization": f"Bearer {SECRET}", "Cookie": f"ballast_console={SECRET}",
    "X-Parse-Webhook-Key": SECRET, "X-Parse-Some-Future-Key": SECRET,
}


async def echo(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    answer = await client.post("/functions/echoHeaders", json={}, headers=headers)
    assert answer.status_code == 200, answer.text
    seen: dict[str, str] = answer.json()["result"]
    return seen


def assert_no_credential(seen: dict[str, str]) -> None:
    assert not [name for name in seen if credentials.is_credential(name)]
    assert SECRET not in orjson.dumps(seen).decode() and MASTER_KEY not in orjson.dumps(seen).decode()


async def test_a_function_sees_no_credential_header_of_a_master_call(client: httpx.AsyncClient) -> None:
    seen = await echo(client, {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY,
                               "X-App-Note": "kept", **CREDENTIALS})
    assert_no_credential(seen)
    assert seen["x-app-note"] == "kept" and seen["x-parse-application-id"] == APP_ID


async def test_a_function_sees_no_session_token(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    signed = await client.post("/users", json={"username": "ann", "password": "pw"}, headers=headers)
    token = signed.json()["sessionToken"]
    seen = await echo(client, {**headers, "X-Parse-Session-Token": token})
    assert_no_credential(seen)
    assert token not in orjson.dumps(seen).decode()


async def test_a_tunnelled_call_drops_the_keys_it_carried_in_its_body(client: httpx.AsyncClient) -> None:
    body = {"_method": "POST", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY, "_JavaScriptKey": SECRET,
            "_RESTAPIKey": SECRET, "_ClientKey": SECRET}
    answer = await client.post("/functions/echoHeaders", content=orjson.dumps(body),
                               headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.text
    assert_no_credential(answer.json()["result"])


async def test_a_batched_function_call_carries_no_credential(client: httpx.AsyncClient) -> None:
    # Ballast's batch routes objects, users, sessions and installations only; should it ever route functions,
    # the sub-request must not hand the batch's keys to the function either
    requests = [{"method": "POST", "path": "/parse/functions/echoHeaders", "body": {}}]
    answer = await client.post("/batch", json={"requests": requests},
                               headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY,
                                        **CREDENTIALS})
    assert answer.status_code == 200
    assert SECRET not in answer.text and MASTER_KEY not in answer.text


@pytest.fixture
def keyed_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rest_api_key": SECRET})


async def test_a_valid_client_key_is_checked_but_not_shown(keyed_settings: Settings) -> None:
    app = create_app(keyed_settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1/parse") as client:
        refused = await client.post("/functions/echoHeaders", json={}, headers={"X-Parse-Application-Id": APP_ID})
        assert refused.status_code == 403
        assert_no_credential(await echo(client, {"X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": SECRET}))


@pytest.mark.parametrize("name", ["X-PARSE-MASTER-KEY", "x-parse-session-token", "X-Parse-Anything-Key",
                                  "x-ballast-new-token", "AUTHORIZATION", "Cookie", *sorted(credentials.NAMED)])
def test_every_credential_name_in_any_case_is_a_credential(name: str) -> None:
    assert credentials.is_credential(name)


@pytest.mark.parametrize("name", ["x-parse-application-id", "x-parse-installation-id", "x-parse-client-version",
                                  "content-type", "user-agent", "x-parse-keys", "x-app-key-name"])
def test_ordinary_headers_are_not_credentials(name: str) -> None:
    assert not credentials.is_credential(name)
