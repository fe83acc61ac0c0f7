"""How ``ballast serve`` runs uvicorn: the public listener, the side one for /metrics, and the worker processes.

``uvicorn.run`` binds one address. With BALLAST_METRICS_PORT the same app is served on two sockets
bound here, and uvicorn's server, worker supervisor or reloader is handed both (what ``uvicorn.run``
does with one; tests/test_private_api_contracts.py pins those signatures). Under ``--workers N`` the
workers share their metrics through a folder made here and removed at exit (backend/metrics.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import ChangeReload, Multiprocess

from backend.config import Settings
from backend.metrics import SHARED_DIR

STARTUP_FAILURE = 3  # uvicorn's exit code when the app did not start


def serve(settings: Settings, workers: int, reload: bool, **options: Any) -> None:
    """Serve ``backend.asgi:app`` on the public address and, when set, the metrics address, until stopped."""
    config = uvicorn.Config("backend.asgi:app", factory=True, host=settings.host, port=settings.port,
                            workers=workers, reload=reload, **options)
    sockets = [config.bind_socket()]
    if settings.metrics_address is not None:
        host, port = settings.metrics_address
        sockets.append(uvicorn.Config(config.app, host=host, port=port, log_config=None).bind_socket())
    server = uvicorn.Server(config)
    with _shared_metrics(workers):
        try:
            if config.should_reload:
                ChangeReload(config, target=server.run, sockets=sockets).run()
            elif workers > 1:
                Multiprocess(config, sockets=sockets).run()
            else:
                server.run(sockets=sockets)
        except KeyboardInterrupt:
            pass
        finally:
            for sock in sockets:
                sock.close()
    if workers == 1 and not reload and not server.started:
        sys.exit(STARTUP_FAILURE)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """Under ``--workers N``: a fresh folder for the workers' numbers (an operator's own is emptied, then kept)."""
    own = os.environ.get(SHARED_DIR)
    if workers == 1 and not own:
        yield
        return
    folder = Path(own) if own else Path(tempfile.mkdtemp(prefix="ballast-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's numbers would be counted again
        stale.unlink()
    os.environ[SHARED_DIR] = str(folder)  # the workers inherit it
    try:
        yield
    finally:
        if not own:
            shutil.rmtree(folder, ignore_errors=True)
