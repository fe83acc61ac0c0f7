"""The access log (both engines): a request id in and out of every response, one line per request, no secret."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
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


@pytest.fixture
def root_logging() -> Iterator[None]:
    """logs.configure changes the process's root logger: put it back as the test found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _configured(json_lines: bool = True) -> io.StringIO:
    """Ballast's handler alone on the root logger, as under ``ballast serve`` (pytest's are taken off)."""
    stream = io.StringIO()
    logging.getLogger().handlers.clear()
    logs.configure(logging.INFO, json_lines=json_lines, stream=stream)
    return stream


def _by_record(logger: logging.Logger, message: str, fields: dict[str, object]) -> dict[str, object]:
    """The line logging's own path writes for this access line (record, filter, formatter)."""
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "%s", (message,), None, extra=fields)
    logs._RequestIdFilter().filter(record)
    line: dict[str, object] = orjson.loads(logs.formatter(True).format(record))
    return line


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize("fields", [
    {"request_id": "rid-1", "method": "GET", "path": "/parse/classes/A", "status": 200, "route": "/r",
     "duration_ms": 1.25, "principal": "user"},
    {"method": "PUT", "path": "/parse/é\"\\\n", "status": 404},  # no request id given: the filter's goes last
])
def test_a_direct_access_line_is_the_line_logging_writes(fields: dict[str, object]) -> None:
    stream = _configured()
    logger = logging.getLogger(ACCESS)
    token = logs.request_id.set("rid-1")
    try:
        assert logs.DirectLines(logger).write("GET /x 200 1.2ms user", fields)
        expected = _by_record(logger, "GET /x 200 1.2ms user", fields)
    finally:
        logs.request_id.reset(token)
    written = stream.getvalue()
    assert written.endswith("\n") and written.count("\n") == 1
    line = orjson.loads(written)
    assert list(line) == list(expected)  # the same keys in the same order
    assert {**line, "time": None} == {**expected, "time": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", str(line["time"]))
    assert abs(time.mktime(time.strptime(str(line["time"])[:19], "%Y-%m-%d %H:%M:%S")) - time.time()) < 5


@pytest.mark.usefixtures("root_logging")
def test_any_other_logging_set_up_gets_the_line_through_logging() -> None:
    logger = logging.getLogger(ACCESS)
    direct = logs.DirectLines(logger)
    readable = _configured(json_lines=False)
    assert not direct.write("m", {}) and readable.getvalue() == ""
    _configured()
    for extra_handler_on in (logging.getLogger(), logging.getLogger("ballast"), logger):
        extra = logging.NullHandler()
        extra_handler_on.addHandler(extra)
        try:
            assert not direct.write("m", {})
        finally:
            extra_handler_on.removeHandler(extra)
    logging.getLogger("ballast").propagate = False
    try:
        assert not direct.write("m", {})
    finally:
        logging.getLogger("ballast").propagate = True
    logging.getLogger().handlers[0].addFilter(logging.Filter("nothing"))
    assert not direct.write("m", {})


@pytest.mark.usefixtures("root_logging")
async def test_served_requests_write_one_json_access_line_each(
        client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    stream = _configured()
    await client.post("/classes/Note", json={"text": "hi"}, headers={**headers, "X-Request-Id": "w-1"})
    await client.get("/classes/Note", headers={**headers, "X-Request-Id": "w-2"})
    lines = [orjson.loads(text) for text in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == ACCESS]
    assert [(line["request_id"], line["method"], line["status"], line["route"], line["principal"])
            for line in access] == [("w-1", "POST", 201, "/parse/classes/{class_name}", "anonymous"),
                                    ("w-2", "GET", 200, "/parse/classes/{class_name}", "anonymous")]
    assert access[0]["message"].startswith("POST /parse/classes/Note 201 ")


@pytest.mark.usefixtures("root_logging")
async def test_a_path_with_control_characters_cannot_forge_a_readable_line_or_drive_the_terminal(
        client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Readable lines (a terminal) print the decoded path: a %0A in it started a forged second line, and an ESC
    (%1B) sent escape sequences to the operator's terminal. Control characters are written escaped."""
    stream = _configured(json_lines=False)
    forged = "/classes/X%0A2026-01-01 00:00:00,000 INFO    ballast.access: GET /parse/admin 200 1.0ms master%1B[2J"
    await client.get(forged, headers=headers)
    written = stream.getvalue()
    assert not any(line.startswith("2026-01-01") for line in written.splitlines())
    assert "\x1b" not in written and "\\n2026-01-01" in written and "\\x1b[2J" in written
