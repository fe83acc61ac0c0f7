"""The servers a benchmark runs against: Ballast as a real uvicorn process, the anchor Parse Server.

Ballast runs as ``ballast serve`` (uvicorn with uvloop and httptools, no access log; ``--workers``
processes) with Parse Server's own environment variables, so
both servers get the same app id and keys. Its PostgreSQL database lives in the
anchor's cluster (fsync off there too), so both engines run on equal terms.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import asyncpg
import httpx

from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parent.parent
ANCHOR_START = REPO / "benchmarks" / "parse_server" / "start.sh"  # npm ci from its package-lock.json


@dataclass(frozen=True)
class Keys:
    app_id: str = "integration"
    master_key: str = "notsosecret"
    rest_key: str = "restkey"
    javascript_key: str = "jskey"


@dataclass
class Target:
    """One server under load: its /parse URL and the headers its clients send."""

    name: str
    label: str
    url: str
    keys: Keys
    master: bool = False
    sql_url: str | None = None  # where its tables live, to check (or, lacking the schema API, make) the index
    sqlite_path: Path | None = None
    pid: int | None = None

    def headers(self, *, master: bool | None = None) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": self.keys.app_id, "Content-Type": "application/json"}
        if self.master if master is None else master:
            headers["X-Parse-Master-Key"] = self.keys.master_key
        else:
            headers["X-Parse-REST-API-Key"] = self.keys.rest_key
        return headers


class _Started(Protocol):
    @property
    def url(self) -> str: ...

    process: subprocess.Popen[bytes] | None

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None: ...


def healthy_or_stopped(server: _Started, what: str, timeout: float, log: Path) -> None:
    """Wait until ``server`` answers; else stop it (Ctrl-C too) and raise with the tail of its log."""
    try:
        wait_healthy(server.url, timeout, server.process)
    except KeyboardInterrupt:
        server.__exit__(None, None, None)
        raise
    except Exception as error:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""  # stopping may remove the log
        server.__exit__(None, None, None)
        raise RuntimeError(f"{what} did not start: {error}\n{tail}") from error


def wait_healthy(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was healthy")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}/health did not answer within {timeout:.0f} s")


def ensure_anchor(url: str, start_script: Path = ANCHOR_START) -> None:
    """The anchor Parse Server, started by its own idempotent script when it is not up (never stopped here)."""
    try:
        if httpx.get(f"{url}/health", timeout=2).status_code == 200:
            return
    except httpx.HTTPError:
        pass
    env = {**os.environ, "ANCHOR_HOME": str(anchor_home())}
    subprocess.run(["bash", str(start_script)], check=True, timeout=900, stdout=subprocess.DEVNULL, env=env)
    wait_healthy(url, 60)


def anchor_home() -> Path:
    """Where the anchor lives. Not under /root by default: its initdb runs as the 'postgres' user,
    which cannot enter a 0700 home directory on a fresh machine."""
    return Path(os.environ.get("ANCHOR_HOME", "/var/tmp/ballast-anchors"))


def anchor_pid() -> int | None:
    """The anchor Parse Server's process id (from its pid file), to read its CPU time; None if unknown."""
    # an anchor started by hand may live in start.sh's own default home instead
    for home in (anchor_home(), Path.home() / ".cache" / "ballast-anchors"):
        try:
            pid = int((home / "parse-server" / "run" / "parse-server.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            return pid
    return None


ANCHOR_PORTS = (1337, 5433)  # the anchor Parse Server and its PostgreSQL cluster
Ports = Callable[[int], int]  # a run's server at this offset -> its port


def run_ports(first: int) -> Ports:
    """The port of a run's server at ``offset``: ``first + offset`` when a first port is given, else a free one
    (never an anchor's), so two runs on one machine never take each other's ports."""
    if first:
        return lambda offset: first + offset

    def free(_offset: int) -> int:
        port = free_port()
        return port if port not in ANCHOR_PORTS else free(_offset)

    return free


class ScratchDatabase:
    """A database of one run's own (``<prefix>_<random>``), dropped when the run ends: two people benchmarking on
    one cluster never drop each other's databases, and no run leaves one behind."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        self.admin_url = admin_url
        self.name = f"{prefix}_{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        return asyncio.run(fresh_database(self.admin_url, self.name))

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        asyncio.run(drop_database(self.admin_url, self.name))


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def fresh_database(admin_url: str, name: str) -> str:
    """Drop and re-create ``name`` in the cluster of ``admin_url``; the URL of the new database."""
    await drop_database(admin_url, name)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class BallastServer:
    """``python -m backend serve`` in its own process, on a loopback port."""

    port: int
    keys: Keys
    database_uri: str | None = None
    source: Path = REPO  # the Ballast tree to run (another checkout compares two versions)
    workers: int = 1  # above 1 needs redis_url, as ``ballast serve --workers`` does
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ballast-bench-")))
    settings: dict[str, str] = field(default_factory=dict)  # more BALLAST_* settings for this run
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/parse"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "BALLAST_"))}
        env |= {
            "PARSE_SERVER_APPLICATION_ID": self.keys.app_id, "PARSE_SERVER_MASTER_KEY": self.keys.master_key,
            "PARSE_SERVER_REST_API_KEY": self.keys.rest_key, "PARSE_SERVER_JAVASCRIPT_KEY": self.keys.javascript_key,
            "BALLAST_DATA_DIR": str(self.data_dir), "PARSE_SERVER_SERVER_URL": self.url,
        }
        if self.database_uri:
            env["PARSE_SERVER_DATABASE_URI"] = self.database_uri
        if self.redis_url:
            env["BALLAST_REDIS_URL"] = self.redis_url
        return env | self.settings

    def __enter__(self) -> BallastServer:
        log = open(self.data_dir / "server.log", "wb")  # noqa: SIM115 - the child process keeps it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            cwd=self.source, env=self.environment() | {"PYTHONPATH": str(self.source)}, stdout=log,
            stderr=subprocess.STDOUT,
        )
        healthy_or_stopped(self, "Ballast", 60 * self.workers, self.data_dir / "server.log")  # each worker starts
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.data_dir, ignore_errors=True)


class RedisServer:
    """A throwaway redis-server on a loopback port (what ``ballast serve --workers`` needs), no persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("redis-server did not start (is it installed? infra/test.sh installs it)")

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class BareServer:
    """The bare-endpoint baseline (benchmarks/bare.py) in its own uvicorn process: one worker, uvloop, httptools."""

    port: int
    database_uri: str
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="ballast-bare-", suffix=".log")[1]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/parse"

    def __enter__(self) -> BareServer:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.bare", self.database_uri,
                                             str(self.port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        healthy_or_stopped(self, "the bare endpoint", 30, self.log)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.unlink(missing_ok=True)


def install_parse_server() -> None:
    """parse-server as package-lock.json pins it, once (start.sh does the same for the reference server)."""
    here = ANCHOR_START.parent
    if (here / "node_modules" / "parse-server").is_dir():
        return
    print("installing parse-server from benchmarks/parse_server/package-lock.json (npm ci) ...", file=sys.stderr)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=here, check=True, timeout=900,
                   stdout=subprocess.DEVNULL)


@dataclass
class ParseCluster:
    """Parse Server in cluster mode (``PARSE_CLUSTER``: N node processes on one port), its own database in the
    anchor's cluster; for the multi-core comparison with ``ballast serve --workers N``."""

    port: int
    database_uri: str
    workers: int
    keys: Keys
    process: subprocess.Popen[bytes] | None = None
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ballast-parse-cluster-")))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/parse"

    def __enter__(self) -> ParseCluster:
        install_parse_server()
        env = {**os.environ, "PARSE_PORT": str(self.port), "PARSE_CLUSTER": str(self.workers),
               "DATABASE_URI": self.database_uri, "ANCHOR_DIR": str(self.home), "PARSE_APP_ID": self.keys.app_id,
               "PARSE_MASTER_KEY": self.keys.master_key, "PARSE_REST_KEY": self.keys.rest_key,
               "PARSE_JS_KEY": self.keys.javascript_key, "PARSE_LOGS": str(self.home)}
        with open(self.home / "server.log", "wb") as log:
            self.process = subprocess.Popen(["node", str(ANCHOR_START.parent / "server.js")], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.home)
        healthy_or_stopped(self, "Parse Server (cluster)", 60, self.home / "server.log")
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the primary; its workers exit with it (cluster IPC channel closes)
            self.process.wait(timeout=15)
        shutil.rmtree(self.home, ignore_errors=True)
