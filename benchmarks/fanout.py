"""In-process LiveQuery fan-out: the hub's CPU per subscriber for one event, with no network and no client.

    .venv/bin/python -m benchmarks.fanout --subscribers 5000 --events 40

N clients subscribe to one query through the hub; each client writes through
``LiveWebSocketProtocol.send_text_now`` (the server's own framing, a real
``websockets`` connection in the OPEN state) into a transport that only counts
bytes, so the numbers are the server's per-subscriber work: matching, permission
checks, frame assembly, WebSocket framing and the write call, not the socket
syscall or the kernel. Process time per event, median of ``--repeats`` rounds.
Scenarios: ``anonymous`` (every subscriber the same identity, as the socket
benchmark) and ``users`` (each subscriber a different signed-in user with a role,
on objects whose ACL grants a role: one identity per subscriber).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from websockets.protocol import Side, State
from websockets.server import ServerProtocol

from backend.config import Settings
from backend.context import ANONYMOUS, Principal, PrincipalKind
from backend.realtime.changes import Change
from backend.realtime.clients import Client, Subscription
from backend.realtime.hub import Hub
from backend.realtime.matching import Matcher
from backend.realtime.uvicorn_protocol import LiveWebSocketProtocol
from backend.services.wiring import build_services
from backend.storage.class_schema import ClassSchema, FieldSpec

CLASS = "LiveItem"
SCHEMA = ClassSchema(CLASS, {
    "objectId": FieldSpec("String"), "createdAt": FieldSpec("Date"), "updatedAt": FieldSpec("Date"),
    "ACL": FieldSpec("ACL"), "run": FieldSpec("String"), "n": FieldSpec("Number"),
})


class CountingTransport:
    """Stands in for the socket: counts what would have been written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False


def open_protocol() -> LiveWebSocketProtocol:
    """The server's protocol object as it is once a handshake has completed (no event loop I/O)."""
    protocol = LiveWebSocketProtocol.__new__(LiveWebSocketProtocol)
    attrs: dict[str, Any] = {
        "conn": ServerProtocol(state=State.OPEN), "transport": CountingTransport(), "handshake_complete": True,
        "close_sent": False, "writable": asyncio.Event(),
    }
    for name, value in attrs.items():
        setattr(protocol, name, value)
    protocol.writable.set()
    assert protocol.conn.side is Side.SERVER
    return protocol


async def never_sent(frame: bytes) -> None:
    raise AssertionError("the direct write refused a frame")


async def never_closed(code: int, reason: str) -> None:
    return None


def change(index: int, acl: list[str]) -> Change:
    now = time.time()
    row = {"objectId": f"obj{index:08d}", "createdAt": now, "updatedAt": now, "run": "r", "n": index,
           "_rperm": acl, "_wperm": acl}
    from datetime import UTC, datetime
    row["createdAt"] = row["updatedAt"] = datetime.fromtimestamp(now, UTC)
    return Change("create", SCHEMA, None, row, now)


def principals(scenario: str, count: int) -> list[Principal]:
    if scenario == "anonymous":
        return [ANONYMOUS] * count
    return [Principal(PrincipalKind.USER, f"user{i:06d}", frozenset({"reader"})) for i in range(count)]


async def run(subscribers: int, events: int, repeats: int, scenario: str) -> list[float]:
    with tempfile.TemporaryDirectory() as data:
        services = build_services(Settings(application_id="bench", master_key="m" * 16, data_dir=Path(data)))
        hub = Hub(services)
        matcher = Matcher(CLASS, {"run": "r"}, SCHEMA, services.schemas.cached)
        protocols = []
        for principal in principals(scenario, subscribers):
            protocol = open_protocol()
            client = Client(never_sent, never_closed, 10_000, principal, send_now=protocol.send_text_now)
            await hub.connect(client)
            await hub._add(Subscription(client, 1, matcher, principal, None, "find"))
            protocols.append(protocol)
        acl = ["*"] if scenario == "anonymous" else ["role:reader"]
        rounds = []
        for _ in range(repeats):
            started = time.process_time()
            for index in range(events):
                await hub.deliver(change(index, acl))
            rounds.append((time.process_time() - started) / events / subscribers * 1e6)
        written = sum(p.transport.written for p in protocols)  # type: ignore[attr-defined]
        assert written > 0, "nothing was written"
        await services.store.close()
        return rounds


def main(
    subscribers: int = typer.Option(5000, help="subscribers of the one query"),
    events: int = typer.Option(40, help="events per round"),
    repeats: int = typer.Option(5, help="rounds (the median is reported)"),
    scenario: list[str] = typer.Option(["anonymous", "users"], help="anonymous | users"),  # noqa: B008
) -> None:
    for name in scenario:
        rounds = asyncio.run(run(subscribers, events, repeats, name))
        print(f"{name}: {statistics.median(rounds):.2f} us per subscriber per event "
              f"(median of {repeats}; rounds {', '.join(f'{r:.2f}' for r in rounds)})")


if __name__ == "__main__":
    typer.run(main)
