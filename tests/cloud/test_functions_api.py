"""POST /functions/{name} (ASGI client, both engines): results, errors, validators, timeouts, context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings


async def run(client: httpx.AsyncClient, function: str, headers: dict[str, str], **params: object) -> httpx.Response:
    return await client.post(f"/functions/{function}", json=params, headers=headers)


async def test_a_function_gets_its_params_and_answers_result(client: httpx.AsyncClient,
                                                             headers: dict[str, str]) -> None:
    answer = await run(client, "hello", headers, name="Ann")
    assert answer.status_code == 200 and answer.json() == {"result": "Hello, Ann!"}


async def test_sync_handlers_and_defaults(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await run(client, "syncAdd", headers, a=2)).json() == {"result": 3}
    assert (await run(client, "syncAdd", headers, a=2, b=5)).json() == {"result": 7}


async def test_a_function_returning_nothing_answers_an_empty_object(client: httpx.AsyncClient,
                                                                   headers: dict[str, str]) -> None:
    answer = await run(client, "silent", headers)
    assert answer.status_code == 200 and answer.json() == {}  # Parse drops the undefined result


async def test_an_unknown_function_is_141_as_parse(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    answer = await run(client, "missing", headers)
    assert answer.status_code == 400 and answer.json() == {"code": 141, "error": 'Invalid function: "missing"'}


async def test_a_crash_is_141_with_a_safe_message_and_the_traceback_only_in_the_log(
    client: httpx.AsyncClient, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ballast.cloud"):
        answer = await run(client, "crashes", headers)
    assert answer.json() == {"code": 141, "error": "Cloud function crashes failed."}
    assert "shadow" not in answer.text and "Traceback" not in answer.text
    assert any("secret internal detail" in (record.exc_text or "") or record.exc_info for record in caplog.records)


async def test_cloud_error_keeps_its_code(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await run(client, "refuses", headers)).json() == {"code": 142, "error": "not today"}


async def test_require_master_and_the_master_key(client: httpx.AsyncClient, headers: dict[str, str],
                                                 master_headers: dict[str, str]) -> None:
    refused = await run(client, "needsMaster", headers)
    assert refused.json() == {"code": 142,
                              "error": "Validation failed. Master key is required to complete this request."}
    assert (await run(client, "needsMaster", master_headers)).json() == {"result": "ok"}
    assert (await run(client, "needsUser", master_headers)).json() == {"result": "ok"}  # master passes requireUser


async def test_the_request_carries_context_installation_and_no_secret_headers(
    client: httpx.AsyncClient, master_headers: dict[str, str]
) -> None:
    sent = {**master_headers, "X-Parse-Cloud-Context": '{"source": "test"}', "X-Parse-Installation-Id": "inst-1"}
    result = (await run(client, "whoami", sent)).json()["result"]
    assert result == {"user": None, "master": True, "installationId": "inst-1", "context": {"source": "test"},
                      "hasMasterKeyHeader": False}


async def test_a_body_that_is_not_an_object_is_refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    answer = await client.post("/functions/hello", content=b"[1, 2]", headers=headers)
    assert answer.json()["code"] == 107


@pytest.fixture
async def quick_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"cloud_timeout": 0.3}))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                    base_url="http://127.0.0.1/parse") as http:
        yield http


async def test_a_function_that_runs_too_long_times_out_with_124(quick_client: httpx.AsyncClient,
                                                               headers: dict[str, str]) -> None:
    answer = await run(quick_client, "sleeps", headers, seconds=5)
    assert answer.status_code == 400
    assert answer.json() == {"code": 124, "error": "Cloud function sleeps timed out."}
    assert (await run(quick_client, "sleeps", headers, seconds=0)).json() == {"result": "woke up"}
