"""``GET /metrics``: Prometheus text for the whole server, to loopback (or BALLAST_METRICS_IPS) or a token.

Counters and histograms are kept as things happen (backend/metrics.py, LiveQuery's hub); the gauges
that are a question to the database (pool use, approvals waiting) are read when Prometheus asks.
With BALLAST_METRICS_PORT, ``ballast serve`` binds a side listener beside the public one and the app
tells them apart by the port a request came in on: the side one answers /metrics and the health
probes only, the public one answers 404 for /metrics (the address check and the token still apply).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from backend import metrics
from backend.api import credentials
from backend.api.auth import client_ip
from backend.api.handlers import render_error
from backend.config import Settings
from backend.errors import ObjectNotFound, Unauthorized
from backend.keys import ip_allowed, same

PATH = "/metrics"


def allowed(request: Request) -> bool:
    settings = request.app.state.services.settings
    header = request.headers.get(credentials.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and same(token.strip(), settings.metrics_token):
        return True
    return ip_allowed(client_ip(request), settings.metrics_ips)


async def _read_gauges(state: Any) -> None:
    metrics.set_pool_stats(state.services.store.pool_stats())
    tools = getattr(state, "agent_tools", None)
    if tools is not None:
        metrics.approvals_pending.set(await tools.approvals.pending_count())


async def scrape(request: Request) -> Response:
    if not allowed(request):
        return render_error(Unauthorized("unauthorized: /metrics is not open to this address"))
    await _read_gauges(request.app.state)
    folder = metrics.shared_dir()
    if folder is not None:  # one worker of several: every worker's numbers, from their shared folder
        body = metrics.render_shared(folder)
    else:
        body = generate_latest(metrics.REGISTRY) + request.app.state.live_query.hub.metrics.render()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class SideListener:
    """The split between the public port and BALLAST_METRICS_PORT, by the port the connection came in on."""

    def __init__(self, app: ASGIApp, port: int, mount_path: str) -> None:
        self.app = app
        self.port = port
        self.side_paths = frozenset((PATH, f"{mount_path}/health", f"{mount_path}/health/ready"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            server = scope.get("server")  # the socket's own address: uvicorn sets it, no header can
            side = server is not None and server[1] == self.port
            if (scope["path"] not in self.side_paths) if side else scope["path"] == PATH:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await render_error(ObjectNotFound("Not found."))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    app.add_api_route(PATH, scrape, methods=["GET"], include_in_schema=False)
    if settings.metrics_port:
        app.add_middleware(SideListener, port=settings.metrics_port, mount_path=settings.mount_path)
