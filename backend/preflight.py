"""Configuration checked before serving: each problem names the setting and the fix, in a line or two.

``ballast serve`` runs these checks and exits 2 on a problem, with no traceback (``--debug`` shows
it); ``ballast doctor`` runs the same checks without serving and reports each one. Messages say what
was tried and never echo a password or key: URLs are shown without their credentials.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from backend.config import Settings

TIMEOUT = 5.0


@dataclass(frozen=True)
class Problem:
    """One misconfiguration: the setting to change, what is wrong, and what to do."""

    setting: str
    problem: str
    fix: str = ""
    error: BaseException | None = None  # the original exception, for --debug

    def lines(self) -> str:
        return f"{self.setting}: {self.problem}" + (f"\n  fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Outcome:
    """A check that ran: what it looked at, and its problem if it found one."""

    name: str
    detail: str
    problem: Problem | None = None


def env_name(field: str) -> str:
    """The environment variable an operator sets for ``field`` (the one set, else the first documented)."""
    alias = Settings.model_fields[field].validation_alias
    choices = [c for c in getattr(alias, "choices", []) if isinstance(c, str) and c.isupper()] or [field.upper()]
    return next((choice for choice in choices if choice in os.environ), choices[0])


def settings_problems(error: ValidationError) -> list[Problem]:
    """A pydantic error per bad variable, in the operator's words."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        setting = env_name(field) if field in Settings.model_fields else "settings"
        problems.append(Problem(setting, message, "correct it, or unset it for the default", None))
    return problems


def load_settings() -> Settings | list[Problem]:
    try:
        return Settings()
    except ValidationError as error:
        return settings_problems(error)


def shown(url: str) -> str:
    """A URL without its user and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def innermost(error: BaseException) -> BaseException:
    """The root cause under SQLAlchemy's and asyncio's wrappers."""
    while error.__cause__ is not None or getattr(error, "orig", None) is not None:
        error = getattr(error, "orig", None) or error.__cause__  # type: ignore[assignment]
    return error


def reason(error: BaseException | None) -> str:
    """The innermost cause, in one line."""
    if error is None:
        return ""
    error = innermost(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def check_data_dir(settings: Settings) -> Outcome:
    folder = Path(settings.data_dir)
    setting = env_name("data_dir")
    if folder.exists() and not folder.is_dir():
        return Outcome("data folder", str(folder), Problem(
            setting, f"{folder} is a file, not a folder", "point it at a folder (created when missing)"))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.R_OK | os.W_OK | os.X_OK):
        return Outcome("data folder", str(folder), Problem(
            setting, f"{existing} cannot be read and written by this user",
            f"give the user running Ballast access to {existing}, or choose another folder"))
    return Outcome("data folder", str(folder))


def check_database_url(settings: Settings) -> Outcome | None:
    uri = settings.database_uri
    if not uri or uri.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://", "sqlite")):
        return None
    scheme = uri.split(":", 1)[0]
    what = "MongoDB is not supported" if scheme.startswith("mongodb") else f"{scheme}:// is not supported"
    return Outcome("database", shown(uri), Problem(
        env_name("database_uri"), f"{what}: Ballast stores data in PostgreSQL or SQLite",
        "use postgresql://user:password@host:5432/dbname, or unset it for SQLite under BALLAST_DATA_DIR"))


async def _reach(ping: Callable[[], Awaitable[None]]) -> BaseException | None:
    try:
        await asyncio.wait_for(ping(), TIMEOUT)
    except Exception as error:  # any failure is the operator's to read, below
        return error
    return None


async def check_database(settings: Settings) -> Outcome:
    from backend.storage import create_store, is_not_a_database

    store = create_store(settings.database_url, pool_size=1)
    try:
        error = await _reach(store.ping)
    finally:
        await store.close()
    if settings.database_uri:
        where = shown(settings.database_uri)
        fix = "start PostgreSQL there, or correct the URL (unset it to run on SQLite)"
        problem = Problem(env_name("database_uri"), f"cannot use PostgreSQL at {where}: {reason(error)}", fix, error)
        return Outcome("database", f"PostgreSQL at {where}", problem if error else None)
    path = settings.sqlite_path
    if error is None:
        return Outcome("database", f"SQLite at {path}")
    if is_not_a_database(reason_error := innermost(error)):
        return Outcome("database", f"SQLite at {path}", Problem(
            env_name("data_dir"), f"{path} is not a usable SQLite database ({reason_error})",
            "restore it from a backup, or move it away to start with an empty database", error))
    return Outcome("database", f"SQLite at {path}", Problem(
        env_name("data_dir"), f"cannot open SQLite at {path}: {reason(error)}",
        "check the folder's permissions and free space", error))


async def check_files(settings: Settings) -> Outcome:
    from backend.services.files.config import build_files_adapter

    if not settings.s3_bucket:
        return Outcome("files", str(settings.data_dir / "files"))  # the data folder check covers it
    adapter = build_files_adapter(settings)
    where = f"bucket {settings.s3_bucket}" + (f" at {shown(settings.s3_endpoint)}" if settings.s3_endpoint else "")
    try:
        error = await _reach(adapter.ping)
    finally:
        await adapter.close()
    problem = Problem(env_name("s3_bucket"), f"cannot reach S3 {where}: {reason(error)}",
                      "check the bucket name, BALLAST_S3_ENDPOINT / BALLAST_S3_REGION and the credentials "
                      "(BALLAST_S3_ACCESS_KEY_ID / BALLAST_S3_SECRET_ACCESS_KEY)", error)
    return Outcome("files", f"S3 {where}", problem if error else None)


async def check_redis(settings: Settings) -> Outcome | None:
    if not settings.redis_url:
        return None
    from backend.realtime.redis_pubsub import RedisPubSub

    bus = RedisPubSub(settings.redis_url, "ballast:preflight")
    try:
        error = await _reach(bus.ping)
    finally:
        await bus.stop()
    where = shown(settings.redis_url)
    problem = Problem(env_name("redis_url"), f"cannot reach Redis at {where}: {reason(error)}",
                      "start Redis there or correct the URL (unset it to run one instance without Redis)", error)
    return Outcome("redis", where, problem if error else None)


def _bind(name: str, setting: str, host: str, port: int) -> Outcome:
    where = f"{host}:{port}"
    try:
        with socket.create_server((host, port)):
            return Outcome(name, where)
    except OSError as error:
        busy = error.errno == errno.EADDRINUSE
        text = "is in use by another process" if busy else f"cannot be bound ({error.strerror})"
        return Outcome(name, where, Problem(
            setting, f"{where} {text}",
            "stop the other server, or choose another port (--port / PARSE_SERVER_PORT) or host (BALLAST_HOST)"
            if name == "port" else "stop the other server, or choose another (--metrics-port / BALLAST_METRICS_PORT)",
            error))


def check_ports(settings: Settings) -> list[Outcome]:
    """The public port and, when set, the side port for /metrics: free, and not one and the same."""
    outcomes = [_bind("port", env_name("port"), settings.host, settings.port)]
    if settings.metrics_address is None:
        return outcomes
    host, port = settings.metrics_address
    if port == settings.port:  # the listeners are told apart by port: one port would make /metrics public
        return [*outcomes, Outcome("metrics port", f"{host}:{port}", Problem(
            env_name("metrics_port"), f"{port} is the public port too, so /metrics would stay public",
            "choose another port for /metrics, or unset it to serve /metrics on the public port"))]
    return [*outcomes, _bind("metrics port", env_name("metrics_port"), host, port)]


async def run_checks(settings: Settings, *, port: bool = True) -> list[Outcome]:
    """Every check, in the order an operator fixes things; later ones skip what an earlier one refused."""
    outcomes = [check_data_dir(settings)]
    bad_url = check_database_url(settings)
    if bad_url is not None:
        outcomes.append(bad_url)
    elif outcomes[0].problem is None:
        outcomes.append(await check_database(settings))
    outcomes.append(await check_files(settings))
    redis = await check_redis(settings)
    outcomes += [redis] if redis else []
    if port:
        outcomes += check_ports(settings)
    return outcomes
