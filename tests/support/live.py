"""A real Ballast server on a loopback port: in a thread of the test process, or as ``ballast serve``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn
from fastapi import FastAPI

from backend.cli import KEEP_ALIVE
from tests.support.postgres import free_port


class LiveServer:
    def __init__(self, app: FastAPI, port: int | None = None, mount_path: str = "/parse",
                 ws: str = "backend.realtime.uvicorn_protocol:LiveWebSocketProtocol",
                 per_message_deflate: bool = False) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{mount_path}"
        # the WebSocket protocol `ballast serve` runs (websockets-sansio plus LiveQuery's non-awaiting write), and
        # as it runs it without per-message deflate unless a test asks for the library-framed path
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws=ws,
                                ws_per_message_deflate=per_message_deflate,
                                timeout_keep_alive=KEEP_ALIVE, http="backend.http_deadlines:DeadlineHttpProtocol")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the live server did not come up within 30 s")

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def ballast_serve(args: list[str], env: dict[str, str], url: str,
                  cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``ballast serve ARGS`` as its own process (yielded: a test may signal it), until ``url``/health answers;
    stopped on exit."""
    command = [str(Path(sys.executable).parent / "ballast"), "serve", *args]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180  # two workers on a loaded 2-core machine took 55 s
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
