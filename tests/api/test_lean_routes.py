"""The lean object routes answer exactly as the whole stack does: a matrix of requests, each sent to an app with
the lean path and to one without it (same services, same data), compared message by message."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from starlette.types import Message

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY

REST, JS = "rest-key", "js-key"
SIDE = 9999
LIMITED = "LeanLimited"  # one GET a minute per address (Parse's rateLimit)
APP = [(b"x-parse-application-id", APP_ID.encode())]
KEYS = {
    "rest": [*APP, (b"x-parse-rest-api-key", REST.encode())],
    "js": [*APP, (b"x-parse-javascript-key", JS.encode())],
    "master": [*APP, (b"x-parse-master-key", MASTER_KEY.encode())],
    "wrong key": [*APP, (b"x-parse-rest-api-key", b"nope")],
    "wrong master": [*APP, (b"x-parse-master-key", b"nope")],
    "no app id": [(b"x-parse-rest-api-key", REST.encode())],
    "bad session": [*APP, (b"x-parse-rest-api-key", REST.encode()), (b"x-parse-session-token", b"r:nope")],
}
_unique = count()


@dataclass
class Case:
    """One request; ``{n}`` in the path or body becomes a number unique to each send."""

    method: str
    path: str
    keys: str = "rest"
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    ip: str | None = None  # else each app's own address, so per-address rate limits count each app apart
    port: int = 1337  # the port the request came in on (SIDE: the metrics port)
    gone: bool = False  # the client leaves after the first part of its body


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _cases(ids: dict[str, str]) -> list[Case]:
    return [*_creates(), *_gets(ids), *_finds()]


def _creates() -> list[Case]:
    return [
        Case("POST", "/parse/classes/LeanItem", body=_json({"name": "a", "n": 1})),
        Case("POST", "/parse/classes/LeanItem", "js",
             body=_json({"name": "b", "when": {"__type": "Date", "iso": "2024-01-02T03:04:05.000Z"}})),
        Case("POST", "/parse/classes/LeanItem", "master", body=_json({"n": 2, "ACL": {}})),
        Case("POST", "/parse/classes/LeanItem", body=b'{"name": '),
        Case("POST", "/parse/classes/LeanItem", body=b"[1, 2]"),
        Case("POST", "/parse/classes/LeanItem", body=b""),
        Case("POST", "/parse/classes/LeanItem", body=b"   "),
        Case("POST", "/parse/classes/LeanItem", body=_json({"n": "not a number"})),
        Case("POST", "/parse/classes/LeanItem", body=_json({"$bad": 1})),
        Case("POST", "/parse/classes/LeanItem", body=_json({"ACL": "nope"})),
        Case("POST", "/parse/classes/LeanItem", body=_json({"objectId": "mine{n}"})),
        Case("POST", "/parse/classes/LeanItem", body=b"[" * 2000 + b"]" * 2000),
        Case("POST", "/parse/classes/LeanItem", body=_json({"name": "x" * (2 * 1024 * 1024)})),
        Case("POST", "/parse/classes/LeanItem", body=b"{}", headers=[(b"content-length", b"99999999")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 3}', headers=[(b"content-type", b"text/plain")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": ', gone=True),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 3}', headers=[(b"content-type", b"multipart/form-data")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 4}', headers=[(b"x-request-id", b"given-id")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 5}', headers=[(b"x-parse-request-id", b"idem-{n}")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 6}', headers=[(b"origin", b"https://app.example")]),
        Case("POST", "/parse/classes/LeanItem", body=b'{"n": 7}', headers=[(b"x-parse-cloud-context", b"{bad")]),
        Case("POST", "/parse/classes/LeanItem", body=_json({"_method": "GET", "where": {"n": 1}})),
        Case("POST", "/parse/classes/LeanItem", "no app id",
             body=_json({"_ApplicationId": APP_ID, "_RESTAPIKey": REST, "n": 8})),
        Case("POST", "/parse/classes/LeanItem", body=_json({"text": "\\u005fmethod"})),
        Case("POST", "/parse/classes/LeanItem", "master", body=b'{"n": 9}', ip="10.1.2.3"),
        Case("POST", "/parse/classes/Bad-Name", body=b"{}"),
        Case("POST", "/parse/classes/CloudReview", body=_json({"text": "x"})),
        Case("POST", "/parse/classes/CloudReview", body=_json({"text": "  a fine review  "})),
        Case("POST", "/parse/classes/CloudRating", body=_json({"stars": 9})),
        Case("POST", "/parse/classes/_User", body=_json({"username": "lean{n}", "password": "pw"})),
        Case("POST", "/parse/classes/_User", body=_json({"password": "pw"})),
        Case("POST", "/parse/classes/_Installation", body=_json({"deviceType": "ios", "installationId": "i-{n}"})),
        Case("POST", "/parse/classes/_Session", body=b"{}"),
        Case("POST", "/1/classes/LeanItem", body=_json({"n": 10})),
        Case("POST", "/parse/classes/LeanItem", body=_json({"n": 11}), port=SIDE),
        *(Case("POST", "/parse/classes/LeanItem", keys, body=b"{}") for keys in KEYS if keys != "rest"),
    ]


def _gets(ids: dict[str, str]) -> list[Case]:
    item, hidden, user = ids["item"], ids["hidden"], ids["user"]
    one = f"/parse/classes/LeanItem/{item}"
    return [
        Case("GET", one), Case("GET", one, "js"), Case("GET", one, "master"),
        Case("GET", one, query={"keys": "name"}), Case("GET", one, query={"include": "owner,nothing"}),
        Case("GET", one, query={"excludeKeys": "name"}),
        Case("GET", f"/parse/classes/LeanItem/{hidden}"), Case("GET", f"/parse/classes/LeanItem/{hidden}", "master"),
        Case("GET", "/parse/classes/LeanItem/nosuchid"), Case("GET", "/parse/classes/NoSuchClass/nosuchid"),
        Case("GET", f"/parse/classes/_User/{user}"), Case("GET", f"/parse/classes/_User/{user}", "master"),
        Case("GET", f"/parse/classes/CloudDirectOnly/{item}"),
        Case("GET", one, headers=[(b"origin", b"https://app.example")]),
        Case("GET", one + "/"), Case("GET", one + "/more"), Case("GET", "/parse/classes//x"),
        Case("HEAD", one), Case("DELETE", "/parse/classes/LeanItem/nosuchid"), Case("PUT", one, body=b"{bad"),
        Case("GET", f"/1/classes/LeanItem/{item}"), Case("GET", one, port=SIDE),
        *(Case("GET", one, keys) for keys in KEYS if keys != "rest"),
    ]


def _finds() -> list[Case]:
    return [
        Case("GET", "/parse/classes/LeanItem"),
        Case("GET", "/parse/classes/LeanItem", query={"where": '{"n": 1}', "order": "-n", "count": "1"}),
        Case("GET", "/parse/classes/LeanItem", query={"where": '{"n": '}),
        Case("GET", "/parse/classes/LeanItem", query={"where": '{"n": {"$foo": 1}}'}),
        Case("GET", "/parse/classes/LeanItem", query={"where": '{"$or": "x"}'}),
        Case("GET", "/parse/classes/LeanItem", query={"where": "[1]"}),
        Case("GET", "/parse/classes/LeanItem", query={"limit": "abc"}),
        Case("GET", "/parse/classes/LeanItem", query={"limit": "-1", "skip": "1"}),
        Case("GET", "/parse/classes/LeanItem", query={"skip": '"x"'}),
        Case("GET", "/parse/classes/LeanItem", query={"order": "nosuchfield", "keys": "name,n"}),
        Case("GET", "/parse/classes/LeanItem", query={"include": "owner", "excludeKeys": "n"}),
        Case("GET", "/parse/classes/LeanItem", "master", query={"where": '{"n": {"$gt": 0}}', "limit": "2"}),
        Case("GET", "/parse/classes/LeanItem", query={"redirectClassNameForKey": "owner"}),
        Case("GET", "/parse/classes/NoSuchClass"), Case("GET", "/parse/classes/CloudSecret"),
        Case("GET", "/parse/classes/LeanItem", port=SIDE),
        Case("GET", "/parse/classes/CloudDirectOnly"), Case("GET", "/parse/classes/_Session"),
        Case("GET", "/parse/classes/_User"), Case("GET", "/parse/classes/_User", "master"),
        Case("GET", f"/parse/classes/{LIMITED}"), Case("GET", f"/parse/classes/{LIMITED}"),
        *(Case("GET", "/parse/classes/LeanItem", keys) for keys in KEYS if keys != "rest"),
    ]


@pytest.fixture
async def apps(settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """(without the lean path, with it): two apps on the same services and data."""
    settings = settings.model_copy(update={
        "rest_api_key": REST, "javascript_key": JS, "max_upload_size": 1024 * 1024, "extra_mount_paths": ["/1"],
        "master_key_ips": ["127.0.0.0/8"], "metrics_port": SIDE,
        "rate_limit": [{"requestPath": f"/classes/{LIMITED}", "requestTimeWindow": 60_000, "requestCount": 1}],
    })
    lean = create_app(settings)
    assert settings.lean_object_routes
    plain = create_app(settings.model_copy(update={"lean_object_routes": False}), services=lean.state.services)
    async with lean.router.lifespan_context(lean):
        yield plain, lean


async def _send(app: FastAPI, case: Case, ip: str, served: list[bool] | None = None) -> list[Message]:
    n = str(next(_unique)).encode()
    body = case.body.replace(b"{n}", n)
    path = case.path.replace("{n}", n.decode())
    headers = [(b"host", b"127.0.0.1"), *KEYS[case.keys], *((k, v.replace(b"{n}", n)) for k, v in case.headers)]
    if not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": case.method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "headers": headers,
             "query_string": urlencode(case.query).encode(), "client": (case.ip or ip, 50000),
             "server": ("127.0.0.1", case.port)}
    messages: list[Message] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    if case.gone:
        pending = [{"type": "http.disconnect"}, {"type": "http.request", "body": body, "more_body": True}]

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    if served is not None:  # the app's exception middleware marks every scope it sees; the lean path has none
        served.append("starlette.exception_handlers" not in scope)
    return messages


_VOLATILE = re.compile(r'"(objectId|createdAt|updatedAt|sessionToken|installationId)":"[^"]*"')


def _comparable(messages: list[Message]) -> tuple[Any, ...]:
    """Status, headers and body; without the request id, and with the values each new object has its own of."""
    if not messages:
        return ("no answer",)
    start, *rest = messages
    headers = [(name, re.sub(rb"/[A-Za-z0-9]{10}$", b"/<id>", value) if name == b"location" else value)
               for name, value in start["headers"] if name != b"x-request-id"]
    body = b"".join(message.get("body", b"") for message in rest).decode()
    ids = [value for name, value in start["headers"] if name == b"x-request-id"]
    return start["status"], headers, _VOLATILE.sub(r'"\1":"*"', body), len(ids), [m["type"] for m in messages]


def _access(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, ...]]:
    lines = [r for r in caplog.records if r.name == "ballast.access"]
    caplog.clear()
    return [tuple(getattr(r, name) for name in ("method", "path", "status", "route", "principal")) for r in lines]


async def _seed(lean: FastAPI) -> dict[str, str]:
    made = {}
    for name, keys, body in (("item", "master", {"name": "seed", "n": 1, "ACL": {"*": {"read": True}}}),
                             ("hidden", "master", {"name": "hidden", "ACL": {}}),
                             ("user", "rest", {"username": "lean-seed", "password": "pw"})):
        path = "/parse/classes/_User" if name == "user" else "/parse/classes/LeanItem"
        messages = await _send(lean, Case("POST", path, keys, _json(body)), "127.0.0.1")
        assert messages[0]["status"] == 201, messages
        made[name] = json.loads(messages[1]["body"])["objectId"]
    for cls in ("CloudDirectOnly", "CloudSecret"):
        await _send(lean, Case("POST", f"/parse/classes/{cls}", "master", _json({"visible": True})), "127.0.0.1")
    return made


async def test_every_request_gets_the_answer_and_access_line_the_whole_stack_gives(
        apps: tuple[FastAPI, FastAPI], caplog: pytest.LogCaptureFixture) -> None:
    plain, lean = apps
    caplog.set_level(logging.INFO, logger="ballast.access")
    cases = _cases(await _seed(lean))
    _access(caplog)
    differences, lean_served, plain_served = [], list[bool](), list[bool]()
    for case in cases:
        theirs = _comparable(await _send(plain, case, "127.0.0.2", plain_served))
        their_line = _access(caplog)
        ours = _comparable(await _send(lean, case, "127.0.0.3", lean_served))
        our_line = _access(caplog)
        if (ours, our_line) != (theirs, their_line):
            differences.append((case, theirs, ours, their_line, our_line))
    assert differences == []
    # the whole stack leaves that mark off the scope only when the tunnel refuses a body before the router runs,
    # or untunnels a request into a copy of the scope: the lean path must have served most cases itself
    assert sum(lean_served) - sum(plain_served) > 70, "the lean path served too few cases to prove anything"
