"""LiveQuery fan-out: N subscribers on one class, writes at a fixed rate; Ballast vs Parse Server 9.

    .venv/bin/python -m benchmarks.livequery --subscribers 1000 --subscribers 5000 --rate 200 --seconds 30

For each server and each N: N WebSocket clients (in a separate process) connect and subscribe to
the same query; the main process then creates objects at ``rate`` per second for ``seconds``
through REST (master key) and reports, per run, delivery latency (write acknowledged -> event
received, p50/p99, measured on a sample of the subscribers spread over the whole set, so the end
of each fan-out counts as much as its start: every client counts its events, the sample also times
them), events received per second, how many of the expected events (writes x subscribers) arrived,
and the CPU time the server spent per event delivered (and the subscriber process's CPU seconds:
with both on one machine, a busy instrument inflates every latency). Ballast runs as a real uvicorn
process on PostgreSQL in the anchor's cluster; Parse Server is the anchor
(``benchmarks/parse_server/start.sh``, never stopped here), whose LiveQuery serves the class ``LiveItem``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing as mp
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx
import typer
import uvloop
import websockets

from benchmarks.load import process_cpu
from benchmarks.servers import BallastServer, Keys, RedisServer, anchor_pid, ensure_anchor, fresh_database

CLASS = "LiveItem"  # one of the anchor's LiveQuery classes
SAMPLE = 50  # subscribers that time every event (the rest only count)


@dataclass
class RunResult:
    server: str
    subscribers: int
    writes: int
    received: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float | None = None  # CPU seconds the server used from the first write to the end of the drain
    client_cpu: float = 0.0  # the same for the subscriber process (is the instrument the bottleneck?)

    @property
    def delivered(self) -> float:
        return self.received / max(1, self.writes * self.subscribers)

    @property
    def server_us_per_event(self) -> str:
        return "?" if self.server_cpu is None else f"{self.server_cpu / max(1, self.received) * 1e6:.1f}"


# --- the subscriber process -------------------------------------------------------------


def subscriber_process(ws_url: str, app_id: str, run: str, count: int, pipe: Connection) -> None:
    # the measuring instrument must not be the bottleneck: uvloop, and no collector pauses while it measures
    uvloop.run(_subscribers(ws_url, app_id, run, count, pipe))


async def _subscribers(ws_url: str, app_id: str, run: str, count: int, pipe: Connection) -> None:
    counts = [0] * count
    receipts: list[tuple[str, float]] = []
    sockets: list[websockets.ClientConnection] = []
    for start in range(0, count, 200):  # open in batches: a burst of thousands of SYNs helps nobody
        batch = await asyncio.gather(*(_open(ws_url, app_id, run) for _ in range(start, min(count, start + 200))))
        sockets.extend(batch)
    # timed subscribers spread over the whole set: a fan-out reaches its last subscriber last
    step = max(1, count // SAMPLE)
    transports: list[asyncio.Transport] = []
    for index, ws in enumerate(sockets):
        transport: asyncio.Transport = ws.transport
        transport.set_protocol(FrameCounter(transport, index, counts, receipts if index % step == 0 else None))
        transports.append(transport)
    gc.collect()
    gc.freeze()  # thousands of long-lived sockets: never scanned again
    gc.disable()  # a full collection in the middle of a run stalls every reader (hundreds of ms)
    pipe.send("ready")
    acks: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.run_in_executor(None, pipe.recv)
        if message == "stop":
            break
        acks.update(message)
    gc.enable()
    latencies = [max(0.0, received - acks[object_id]) for object_id, received in receipts if object_id in acks]
    pipe.send({"received": sum(counts), "latencies": latencies})
    for transport in transports:
        transport.close()


async def _open(ws_url: str, app_id: str, run: str) -> websockets.ClientConnection:
    # no compression (neither server compresses events): FrameCounter reads plain text frames
    ws = await websockets.connect(ws_url, max_size=None, open_timeout=60, ping_interval=None, compression=None)
    await ws.send(json.dumps({"op": "connect", "applicationId": app_id, "javascriptKey": Keys().javascript_key}))
    connected = json.loads(await ws.recv())
    if connected.get("op") != "connected":
        raise RuntimeError(f"connect failed: {connected}")
    await ws.send(json.dumps({"op": "subscribe", "requestId": 1,
                              "query": {"className": CLASS, "where": {"run": run}}}))
    reply = json.loads(await ws.recv())
    if reply.get("op") != "subscribed":
        raise RuntimeError(f"subscribe failed: {reply}")
    return ws


class FrameCounter(asyncio.Protocol):
    """One subscriber's socket after its handshake: counts event frames straight off the transport.

    The instrument must stay cheaper than the servers it measures (it shares their two cores): a
    WebSocket library parsing every one of 25,000 frames a second needed as much CPU as Ballast did
    to send them, and when it fell behind every latency grew with its backlog. Server frames are
    unmasked and, without compression, whole text messages; a timed subscriber also decodes its events
    (stamped when their bytes arrive). Server pings are answered, as the library would.
    """

    def __init__(self, transport: asyncio.Transport, index: int, counts: list[int],
                 receipts: list[tuple[str, float]] | None) -> None:
        self.transport, self.index, self.counts, self.receipts = transport, index, counts, receipts
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        position, size = 0, len(buffer)
        while size - position >= 2:
            length, head = buffer[position + 1] & 0x7F, 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if size - position < head:
                    break
                length = int.from_bytes(buffer[position + 2:position + head], "big")
            end = position + head + length
            if end > size:
                break
            opcode = buffer[position] & 0x0F
            if opcode == 0x1:
                self.counts[self.index] += 1
                if self.receipts is not None:
                    event = json.loads(bytes(buffer[position + head:end]))
                    self.receipts.append((event["object"]["objectId"], now))
            elif opcode == 0x9:
                self.pong(bytes(buffer[position + head:end]))
            position = end
        del buffer[:position]

    def pong(self, payload: bytes) -> None:
        mask = os.urandom(4)  # client frames are masked (RFC 6455)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)


# --- the writer ---------------------------------------------------------------------------


async def write_at_rate(url: str, keys: Keys, run: str, rate: float, seconds: float, pipe: Connection) -> int:
    headers = {"X-Parse-Application-Id": keys.app_id, "X-Parse-Master-Key": keys.master_key}
    writes = int(rate * seconds)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as http:
        async def one(index: int) -> bool:
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            try:
                response = await http.post(f"/classes/{CLASS}", json={"run": run, "n": index})
                response.raise_for_status()
            except httpx.HTTPError:  # a server too busy to acknowledge in 30 s: counted, not fatal
                return False
            pipe.send({response.json()["objectId"]: time.time()})
            return True

        acknowledged = await asyncio.gather(*(one(index) for index in range(writes)))
    return sum(acknowledged)


def warm_up(url: str, keys: Keys) -> None:
    """One write before the clock starts: the class and its columns exist before concurrent writes."""
    headers = {"X-Parse-Application-Id": keys.app_id, "X-Parse-Master-Key": keys.master_key}
    httpx.post(f"{url}/classes/{CLASS}", json={"run": "warm-up", "n": 0}, headers=headers).raise_for_status()


def measure(name: str, url: str, keys: Keys, subscribers: int, rate: float, seconds: float,
            drain: float, pid: int | None) -> RunResult:
    run = uuid.uuid4().hex[:12]
    warm_up(url, keys)
    here, there = mp.Pipe()
    ws_url = url.replace("http://", "ws://", 1)
    process = mp.get_context("spawn").Process(target=subscriber_process,
                                              args=(ws_url, keys.app_id, run, subscribers, there))
    process.start()
    try:
        if not here.poll(300) or here.recv() != "ready":
            raise RuntimeError("the subscribers did not connect within 300 s")
        began = time.monotonic()
        cpu = (process_cpu(pid) if pid else 0.0, process_cpu(process.pid or 0))
        writes = asyncio.run(write_at_rate(url, keys, run, rate, seconds, here))
        time.sleep(drain)  # let the last events arrive
        elapsed = time.monotonic() - began
        server_cpu = process_cpu(pid) - cpu[0] if pid else None
        client_cpu = process_cpu(process.pid or 0) - cpu[1]
        here.send("stop")
        outcome: dict[str, Any] = here.recv()
    finally:
        process.join(60)
        if process.is_alive():
            process.kill()
    latencies = sorted(outcome["latencies"]) or [float("nan")]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return RunResult(name, subscribers, writes, outcome["received"], elapsed,
                     statistics.median(latencies) * 1000, p99 * 1000, server_cpu, client_cpu)


def table(results: list[RunResult]) -> str:
    lines = ["| server | subscribers | writes acked | events/s | delivered | p50 ms | p99 ms | server CPU µs/event "
             "| subscriber process CPU s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r.server} | {r.subscribers} | {r.writes} | {r.received / r.seconds:,.0f} | "
                     f"{r.delivered:.1%} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.server_us_per_event} | "
                     f"{r.client_cpu:.1f} |")
    return "\n".join(lines)


def main(
    subscribers: list[int] = typer.Option([1000, 5000], help="subscriber counts to run"),  # noqa: B008
    rate: float = typer.Option(200.0, help="writes per second"),
    seconds: float = typer.Option(30.0, help="how long to write"),
    drain: float = typer.Option(5.0, help="seconds to wait for late events after the last write"),
    repeat: int = typer.Option(1, help="runs per configuration (the median run is reported)"),
    port: int = typer.Option(18_610, help="Ballast's port"),
    parse_url: str = typer.Option("http://127.0.0.1:1337/parse", help="the anchor Parse Server"),
    pg_admin: str = typer.Option("postgresql://postgres@127.0.0.1:5433/postgres", help="anchor cluster"),
    only: list[str] = typer.Option(["ballast", "parse"], help="servers to run"),  # noqa: B008
    workers: int = typer.Option(1, help="Ballast server processes (above 1: a throwaway redis-server between "
                                "them, as `ballast serve --workers` needs; each process fans out to its own clients)"),
) -> None:
    keys = Keys()
    # as `ballast serve` runs it (and as Parse's ws server does): no per-message deflate of every copy of an event
    os.environ["UVICORN_WS_PER_MESSAGE_DEFLATE"] = "false"
    results: list[RunResult] = []
    with ExitStack() as stack:
        urls: dict[str, tuple[str, int | None]] = {}
        if "parse" in only:
            ensure_anchor(parse_url)
            urls["parse-server-9"] = (parse_url, anchor_pid())
        if "ballast" in only:
            uri = asyncio.run(fresh_database(pg_admin, "ballast_livequery_bench"))
            redis = stack.enter_context(RedisServer(port + 100)).url if workers > 1 else None
            server = stack.enter_context(BallastServer(port, keys, uri, workers=workers, redis_url=redis))
            name = "ballast-pg" if workers == 1 else f"ballast-pg x{workers}"
            urls[name] = (server.url, server.process.pid if server.process else None)
        for count in subscribers:
            runs: dict[str, list[RunResult]] = {name: [] for name in urls}
            for _ in range(repeat):  # the servers take turns: a busy spell on the machine hits both alike
                for name, (url, pid) in urls.items():
                    runs[name].append(measure(name, url, keys, count, rate, seconds, drain, pid))
                    print(f"  run: {table(runs[name][-1:]).splitlines()[-1]}", flush=True)
            for done in runs.values():
                median = sorted(done, key=lambda r: r.p99_ms)[len(done) // 2]
                results.append(median)
                print(table([median]).splitlines()[-1], flush=True)
    print(f"\nrate {rate:g}/s for {seconds:g} s, latency sampled on {SAMPLE} subscribers per run\n")
    print(table(results))


if __name__ == "__main__":
    typer.run(main)
