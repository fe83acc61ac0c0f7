"""Contracts with the private APIs two modules adapt: an upgrade that breaks one fails here, naming our module.

pyproject.toml bounds these packages to the versions checked (``infra/update-lock.sh`` moves the lock); these tests
say exactly which private name moved, so the adaptation is fixed or the upper bound kept, never a mystery failure.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest

TRIPS = "backend/storage/sqlite_trips.py"
DIRECT = "backend/storage/sqlite_direct.py and sqlite_group.py"  # aiosqlite's _execute and _conn, as TRIPS
LIVE_WS = "backend/realtime/uvicorn_protocol.py"
DEADLINES = "backend/http_deadlines.py"


def _broken(module: str, package: str, what: str) -> str:
    return (f"{module} relies on {package} {version(package)}'s private {what}, which is gone or changed: "
            f"adapt {module} to this version, or keep {package} below it in pyproject.toml")


def _source_sets(cls: type, attributes: tuple[str, ...]) -> list[str]:
    """Attributes of ``attributes`` that no method of ``cls`` (or its bases) assigns any more."""
    source = "".join(inspect.getsource(base) for base in cls.__mro__ if base.__module__ != "builtins")
    return [name for name in attributes if f"self.{name} =" not in source and f"self.{name}: " not in source]


def test_sqlalchemy_await_is_the_greenlet_bridge() -> None:
    try:
        from sqlalchemy.util.concurrency import await_
    except ImportError:
        pytest.fail(_broken(TRIPS, "sqlalchemy", "sqlalchemy.util.concurrency.await_"))
    assert callable(await_), _broken(TRIPS, "sqlalchemy", "sqlalchemy.util.concurrency.await_")


def test_sqlalchemy_aiosqlite_adapter_has_the_internals_the_one_trip_cursor_sets() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite as adapter

    what = "AsyncAdapt_aiosqlite_{cursor,connection,dbapi} internals"
    cursor, connection, dbapi = (adapter.AsyncAdapt_aiosqlite_cursor, adapter.AsyncAdapt_aiosqlite_connection,
                                 adapter.AsyncAdapt_aiosqlite_dbapi)
    missing = _source_sets(cursor, ("_adapt_connection", "_connection", "_soft_closed_memoized", "_rows"))
    assert not missing, _broken(TRIPS, "sqlalchemy", f"{what}: cursor no longer sets {missing}")
    assert hasattr(connection, "_handle_exception") and hasattr(connection, "_cursor_cls"), _broken(
        TRIPS, "sqlalchemy", f"{what}: connection._handle_exception / _cursor_cls")
    assert list(inspect.signature(dbapi.__init__).parameters)[1:3] == ["aiosqlite", "sqlite"], _broken(
        TRIPS, "sqlalchemy", f"{what}: AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)")


async def test_aiosqlite_runs_a_function_in_its_thread_on_the_raw_connection() -> None:
    import aiosqlite

    what = "Connection._execute(fn, *args) and Connection._conn"
    async with aiosqlite.connect(":memory:") as connection:
        raw: Any = getattr(connection, "_conn", None)
        assert isinstance(raw, sqlite3.Connection), _broken(TRIPS, "aiosqlite", what)
        run: Callable[..., Any] | None = getattr(connection, "_execute", None)
        assert run is not None, _broken(TRIPS, "aiosqlite", what)
        assert await run(lambda db, n: db.execute("SELECT ?", (n,)).fetchone()[0], raw, 7) == 7, _broken(
            TRIPS, "aiosqlite", what)


async def test_the_one_trip_cursor_works_on_the_installed_versions() -> None:
    import sqlalchemy
    from sqlalchemy.ext.asyncio import create_async_engine

    from backend.storage.sqlite_trips import OneTripDBAPI, held_writes

    engine = create_async_engine("sqlite+aiosqlite:///:memory:", module=OneTripDBAPI())
    try:
        async with engine.begin() as conn:
            await conn.execute(sqlalchemy.text("CREATE TABLE t (a INTEGER)"))
            async with held_writes(conn):
                await conn.execute(sqlalchemy.text("INSERT INTO t VALUES (1)"))
            await conn.execute(sqlalchemy.text("INSERT INTO t VALUES (2)"))
            count = (await conn.execute(sqlalchemy.text("SELECT count(*) FROM t"))).scalar()
    finally:
        await engine.dispose()
    assert count == 2, _broken(TRIPS, "sqlalchemy", "aiosqlite adapter (the held and the sent statement)")


async def test_the_direct_sqlite_paths_reach_aiosqlite_behind_the_adapted_connection() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite as adapter

    what = "AsyncAdapt_aiosqlite_connection._connection (the aiosqlite.Connection)"
    assert not _source_sets(adapter.AsyncAdapt_aiosqlite_connection, ("_connection",)), _broken(
        DIRECT, "sqlalchemy", what)
    await test_aiosqlite_runs_a_function_in_its_thread_on_the_raw_connection()  # the same two aiosqlite names


def test_uvicorn_sansio_websocket_protocol_has_what_the_direct_send_reads() -> None:
    what = "uvicorn.protocols.websockets.websockets_sansio_impl.WebSocketsSansIOProtocol"
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:
        pytest.fail(_broken(LIVE_WS, "uvicorn", what))
    missing = _source_sets(WebSocketsSansIOProtocol, ("handshake_complete", "close_sent", "writable", "conn",
                                                      "transport", "scope"))
    assert not missing, _broken(LIVE_WS, "uvicorn", f"{what}: no longer sets {missing}")
    assert callable(getattr(WebSocketsSansIOProtocol, "handle_connect", None)), _broken(
        LIVE_WS, "uvicorn", f"{what}.handle_connect")


def test_websockets_sansio_connection_frames_text_without_io() -> None:
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    what = "websockets.protocol.State.OPEN and ServerProtocol.send_text / data_to_send"
    connection = ServerProtocol()
    connection.state = State.OPEN
    connection.send_text(b"hi")
    assert b"".join(connection.data_to_send()) == b"\x81\x02hi", _broken(LIVE_WS, "websockets", what)


def test_the_direct_send_frames_text_exactly_as_websockets_does() -> None:
    """The direct send writes its own header when no extension is negotiated and nothing of the library's is
    pending (``Protocol.extensions`` / ``Protocol.writes``): the bytes must be the library's, at every size."""
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    from backend.realtime.uvicorn_protocol import text_frame_header

    connection = ServerProtocol()
    connection.state = State.OPEN
    assert connection.extensions == [] and connection.writes == [], _broken(
        LIVE_WS, "websockets", "Protocol.extensions / Protocol.writes")
    for size in (0, 125, 126, 65_535, 65_536, 70_000):
        payload = b"x" * size
        connection.send_text(payload)
        assert connection.writes, _broken(LIVE_WS, "websockets", "Protocol.writes holds frames until data_to_send")
        assert b"".join(connection.data_to_send()) == text_frame_header(size) + payload, size


def test_uvicorn_httptools_protocol_has_what_the_request_deadlines_read() -> None:
    what = "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol / RequestResponseCycle"
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
    except ImportError:
        pytest.fail(_broken(DEADLINES, "uvicorn", what))
    hooks = ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete", "on_body",
             "on_message_complete", "_should_upgrade")
    gone = [name for name in hooks if not callable(getattr(HttpToolsProtocol, name, None))]
    assert not gone, _broken(DEADLINES, "uvicorn", f"{what}: no method {gone}")
    assert list(inspect.signature(HttpToolsProtocol.__init__).parameters)[1:5] == [
        "config", "server_state", "app_state", "_loop"], _broken(DEADLINES, "uvicorn", f"{what}.__init__")
    missing = _source_sets(HttpToolsProtocol, ("loop", "transport", "flow", "parser", "cycle"))
    missing += _source_sets(RequestResponseCycle, ("keep_alive", "disconnected", "message_event", "response_started",
                                                   "response_complete", "waiting_for_100_continue"))
    assert not missing, _broken(DEADLINES, "uvicorn", f"{what}: no longer sets {missing}")
    from uvicorn.protocols.http.flow_control import FlowControl

    assert "self.read_paused =" in inspect.getsource(FlowControl), _broken(DEADLINES, "uvicorn", "FlowControl")


def test_uvicorn_serves_the_sockets_it_is_handed_in_one_process_under_workers_and_under_reload() -> None:
    import uvicorn
    from uvicorn.supervisors import ChangeReload, Multiprocess

    listeners = "backend/listeners.py"
    shapes: dict[str, tuple[Callable[..., Any], list[str]]] = {"Server.run": (uvicorn.Server.run, ["self", "sockets"]),
              "supervisors.Multiprocess": (Multiprocess.__init__, ["self", "config", "sockets"]),
              "supervisors.ChangeReload": (ChangeReload.__init__, ["self", "config", "target", "sockets"])}
    for name, (function, parameters) in shapes.items():
        assert list(inspect.signature(function).parameters) == parameters, _broken(
            listeners, "uvicorn", f"{name}({', '.join(parameters[1:])})")
    assert callable(getattr(uvicorn.Config, "bind_socket", None)), _broken(listeners, "uvicorn", "Config.bind_socket")
