"""Webhook calls connect to the address they checked: a DNS answer that changes in between (rebinding) is moot.

Before: the private-address check and httpx each resolved the host, so a name answering a public address to
the check and a loopback one to the connection reached the loopback service. The resolver here is the event
loop's ``getaddrinfo`` answering chosen addresses for invented names (the DNS a rebinding attacker controls);
the webhook target is a real HTTP server on loopback. No database is involved (no engine parameter).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from backend.errors import ParseError
from backend.services.cloud.webhooks import WebhookCaller, check_target
from tests.cloud.conftest import Target

PUBLIC = "93.184.216.34"  # a global address: passes the check, and is not reachable from the test machine


def _dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Names in ``answers`` resolve to the next address in their list (the last one repeats); lookups noted."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    looked: list[str] = []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **options: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return await real(host, port, *args, **options)
        looked.append(name)
        queue = answers[name]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return looked


async def test_a_name_rebinding_to_loopback_between_check_and_call_is_not_reached(
        monkeypatch: pytest.MonkeyPatch, target: Target) -> None:
    port = target.server.server_address[1]
    looked = _dns(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    caller = WebhookCaller(None, timeout=1.0, allow_private=False)
    with pytest.raises(ParseError) as refused:
        await caller.call(f"http://rebind.test:{port}/f", {"params": {}})
    assert refused.value.code == 141 and "webhook failed" in refused.value.message  # tried PUBLIC, not loopback
    assert target.calls == [] and looked == ["rebind.test"]  # one lookup per call, never a second one
    # the name now answers loopback from the start: refused before any connection
    with pytest.raises(ParseError) as private:
        await caller.call(f"http://rebind.test:{port}/f", {"params": {}})
    assert (private.value.code, target.calls) == (143, [])


async def test_a_name_of_a_loopback_address_is_refused_by_default_and_allowed_when_set(
        monkeypatch: pytest.MonkeyPatch, target: Target) -> None:
    port = target.server.server_address[1]
    looked = _dns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    url = f"http://hooks.test:{port}/f"
    for check in (check_target(url, False), WebhookCaller(None, 2.0, False).call(url, {"params": {}})):
        with pytest.raises(ParseError) as refused:
            await check
        assert refused.value.code == 143 and "private address" in refused.value.message
    assert target.calls == []
    answer = await WebhookCaller("k", 2.0, allow_private=True).call(url, {"params": {"a": 1}})
    assert answer == "default" and len(target.calls) == 1
    path, headers, body = target.calls[0]
    assert (path, headers["Host"], body) == ("/f", f"hooks.test:{port}", {"params": {"a": 1}})  # Host kept
    assert looked.count("hooks.test") == 3  # check, refused call, allowed call: one lookup each
