"""The app as a server process runs it: ``uvicorn --factory backend.asgi:app`` (what ``ballast serve`` starts).

Settings come from the environment, so every worker process builds the same
app (an embedded server's generated master key is read from its key file).
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from backend import logs
from backend.app import create_app
from backend.config import Settings
from backend.embedded import prepare


def app() -> FastAPI:
    settings, _ = prepare(Settings())
    logs.configure(settings.log_level_number)  # every worker process logs the same way
    application = create_app(settings)
    settle_heap()
    return application


def settle_heap() -> None:
    """Take everything built so far (imported modules, the app) out of the cyclic collector's sight.

    Under load the collector's full passes walked the whole import-time heap (FastAPI, SQLAlchemy,
    pydantic, the MCP SDK): 80-95 ms each, several a second, each one a stall for every request in
    flight, and Ballast's p99 was 3x its p50 (benchmarks/crud.py). Frozen objects are never scanned
    again; what requests allocate is collected as before. A server process does this once, after
    building its app; tests, which build many apps in one process, do not.
    """
    gc.collect()
    gc.freeze()
