"""The access log (both engines): a request id in and out of every response, one line per request, no secret."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from backend import logs
from tests.conftest import MASTER_KEY

ACCESS = "ballast.access"


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS]


def _fields(record: logging.LogRecord, *names: str) -> tuple[Any, ...]:
    """Fields the access logger passed as ``extra`` (attributes LogRecord itself does not declare)."""
    return tuple(getattr(record, name) for name in names)


async def test_every_response_carries_a_request_id_and_a_sane_one_is_kept(
        client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    kept = await client.get("/classes/Nope", headers={**headers, "X-Request-Id": "edge-7f3a.42"})
    assert kept.headers["x-request-id"] == "edge-7f3a.42"
    refused = await client.get("/health", headers={"X-Request-Id": "a b" + "x" * 200})  # spaces, too long
    assert refused.headers["x-request-id"] != "a b" + "x" * 200 and len(refused.headers["x-request-id"]) == 32
    failed = await client.get("/classes/Nope/x", headers={"X-Parse-Application-Id": "wrong"})
    assert failed.status_code == 403 and failed.headers["x-request-id"]


async def test_one_access_line_per_request_names_route_status_and_principal_kind(
        client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, ACCESS)
    await client.post("/classes/Note", json={"text": "hi"}, headers={**master_headers, "X-Request-Id": "r-1"})
    signed = (await client.post("/users", json={"username": "ann", "password": "pw-ann-1"}, headers=headers)).json()
    await client.get("/classes/Note", params={"where": '{"text":"hi"}'},
                     headers={**headers, "X-Parse-Session-Token": signed["sessionToken"], "X-Request-Id": "r-2"})
    await client.get("/no-such-route", headers={"X-Request-Id": "r-3"})
    lines = {getattr(record, "request_id", None): record for record in _access_lines(caplog)}
    first, second, third = lines["r-1"], lines["r-2"], lines["r-3"]
    assert _fields(first, "method", "status", "route", "principal") == (
        "POST", 201, "/parse/classes/{class_name}", "master")
    assert _fields(second, "status", "principal", "path") == (200, "user", "/parse/classes/Note")
    assert _fields(third, "status", "route", "principal") == (404, "unmatched", "none")
    assert len(_access_lines(caplog)) == 4  # one line per request, no more
    written = "\n".join(logs.formatter(True).format(record) for record in caplog.records)
    for secret in (MASTER_KEY, signed["sessionToken"], "where"):  # keys, tokens and query strings stay out
        assert secret not in written


def test_json_lines_carry_level_logger_message_and_request_id() -> None:
    record = logging.LogRecord("ballast.mail", logging.INFO, __file__, 1, "mail to %s", ("a@example.com",), None)
    token = logs.request_id.set("rid-9")
    try:
        logs._RequestIdFilter().filter(record)
    finally:
        logs.request_id.reset(token)
    line = orjson.loads(logs.formatter(True).format(record))
    assert {key: line[key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "INFO", "logger": "ballast.mail", "message": "mail to a@example.com", "request_id": "rid-9"}
    assert "time" in line
    assert logs.formatter(False).format(record).endswith("INFO    ballast.mail: mail to a@example.com")
