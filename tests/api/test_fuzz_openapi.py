"""schemathesis against the live /parse/openapi.json: no 5xx, and every error is Parse-shaped.

A bounded, derandomized run (a few examples per operation, valid and invalid
inputs) against a real server on both engines. Each operation is a real HTTP
call through schemathesis's own client.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import APIOperation, GenerationMode
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Ok, Result

from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import LiveServer

MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))  # e.g. FUZZ_EXAMPLES=200 for a long run
# the route groups of this suite's owner, plus the class routes every other group rides on
FUZZED_PREFIXES = ("/classes", "/batch", "/schemas", "/purge", "/config", "/installations", "/aggregate",
                   "/health", "/serverInfo")

Operation = APIOperation[Any, Any, Any, Any]  # one operation of the live OpenAPI document


def _seed(server: LiveServer) -> None:
    """A class with every field type, so the live document has typed class paths to fuzz."""
    body: dict[str, Any] = {
        "title": "t", "n": 1, "ok": True, "when": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"},
        "tags": ["a"], "meta": {"k": "v"}, "where": {"__type": "GeoPoint", "latitude": 1, "longitude": 2}}
    response = requests.post(f"{server.url}/classes/Fuzzed", json=body, headers=MASTER, timeout=10)
    assert response.status_code == 201


def _parse_shaped(status: int, body: Any) -> bool:
    if status == 403 and isinstance(body, dict) and isinstance(body.get("error"), str):
        return True  # parse-server's unauthorized answer carries no code
    return (isinstance(body, dict) and isinstance(body.get("code"), int) and isinstance(body.get("error"), str))


def _valid(result: Result[Operation, InvalidSchema]) -> Operation:
    """An operation the document defines; one schemathesis could not read fails the test with its reason."""
    assert isinstance(result, Ok), result.err()
    return result.ok()


def _check(operation: Operation, server: LiveServer, mode: GenerationMode) -> None:
    failures: list[str] = []

    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=server.url, headers=MASTER, timeout=30)
        label = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        if response.status_code >= 500:
            failures.append(label)
        elif response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not _parse_shaped(response.status_code, body):
                failures.append("not Parse-shaped: " + label)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        return  # nothing to negate (an operation without inputs): its positive run covers it
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_operations_never_answer_5xx(live_server: LiveServer, mode: GenerationMode) -> None:
    _seed(live_server)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json", headers=MASTER)
    operations = [_valid(result) for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.path.startswith(FUZZED_PREFIXES)]
    assert any(op.path == "/classes/Fuzzed" for op in fuzzed), "the live class is missing from the document"
    for operation in fuzzed:
        _check(operation, live_server, mode)
