"""``GET /metrics``: Prometheus text for the whole server, to loopback (or BALLAST_METRICS_IPS) or a token.

Counters and histograms are kept as things happen (backend/metrics.py, LiveQuery's hub); the gauges
that are a question to the database (pool use, approvals waiting) are read when Prometheus asks.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from backend import metrics
from backend.api.auth import client_ip
from backend.api.handlers import render_error
from backend.errors import Unauthorized
from backend.keys import ip_allowed, same


def allowed(request: Request) -> bool:
    settings = request.app.state.services.settings
    header = request.headers.get("authorization", "")
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
    body = generate_latest(metrics.REGISTRY) + request.app.state.live_query.hub.metrics.render()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
