"""create_app(settings): services, routers, middleware, the one error handler, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from agent_tools.faces.mcp_server import mount as mount_mcp
from agent_tools.faces.mount import mount as mount_agent_tools
from backend.api import handlers
from backend.api import metrics as metrics_api
from backend.api.access_log import AccessLogMiddleware, RouteNoteMiddleware
from backend.api.classes import routes as object_routes
from backend.api.cors import CORS
from backend.api.idempotency import IdempotencyMiddleware
from backend.api.lean_routes import LeanObjectRoutes
from backend.api.read_retry import ReadRetryMiddleware
from backend.api.routes import parse_router
from backend.api.tunnel import TunnelMiddleware
from backend.api.uploads import UploadMiddleware
from backend.config import Settings
from backend.console.site import mount as mount_console
from backend.http_deadlines import DEADLINES, RequestDeadlines
from backend.metrics import observe_request, shared_between_workers
from backend.realtime.live_query import LiveQueryServer
from backend.services.wiring import Services, build_services
from jobs.wiring import build_jobs

# Ballast keeps its own access log and /metrics; FastAPI's OpenTelemetry hooks would only look up the global
# providers on every request (about 3% of a GET's CPU, measured with py-spy under benchmarks/crud.py)
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    services = services or build_services(settings)
    live_query = LiveQueryServer(services)
    jobs = build_jobs(services)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await services.start()
        await live_query.start()
        await jobs.open()
        try:
            # the MCP transport's task group lives as long as the app; under --workers N, this worker's numbers
            # are kept in the folder the workers share (backend/metrics.py)
            async with mcp.running(), shared_between_workers(services.store.pool_stats):
                # lifespan state reaches the server's protocol too: the deadlines it holds slow clients to
                yield {DEADLINES: RequestDeadlines(settings.request_head_timeout, settings.request_body_min_rate)}
        finally:
            await agent_tools.close()
            await jobs.close()
            await live_query.stop()
            await services.stop()

    app = FastAPI(
        title="Ballast", version="0.1.0", lifespan=lifespan,
        docs_url=f"{settings.mount_path}/docs", openapi_url=None, redoc_url=None, telemetry=NO_TELEMETRY,
    )
    app.state.services = services
    app.state.jobs = jobs
    # the Parse routes first: routes are tried in order, and these carry nearly all the traffic
    mount_paths = (settings.mount_path, *settings.extra_mount_paths)  # extra: e.g. /1 for legacy Parse.com clients
    for prefix in mount_paths:
        app.router.routes.extend(object_routes(prefix))
    app.include_router(parse_router(), prefix=settings.mount_path)
    agent_tools = mount_agent_tools(app, services, jobs)  # /agent/v1: the agent tool gateway and its admin API
    mcp = mount_mcp(app, agent_tools)  # /mcp (OAuth-protected MCP face), /oauth/token, intents admin API
    for extra in settings.extra_mount_paths:  # BALLAST_EXTRA_MOUNT_PATHS
        app.include_router(parse_router(), prefix=extra)
    live_query.install(app)  # WebSocket at the mount path
    app.state.live_query = live_query
    metrics_api.install(app, settings)  # /metrics: HTTP, agent calls, jobs, pools, approvals, LiveQuery
    mount_console(app, agent_tools, jobs, live_query.hub)  # /console: the admin console (same services as the CLI)
    handlers.install(app)
    app.add_middleware(RouteNoteMiddleware)  # innermost: the route the router matched, for the access line
    app.add_middleware(ReadRetryMiddleware)  # a read whose pooled connection died runs once more (inside the tunnel)
    # inside the tunnel, so it sees the real method of the JS SDK's tunnelled requests
    app.add_middleware(IdempotencyMiddleware, service=lambda: services.idempotency, mount_path=settings.mount_path)
    app.add_middleware(TunnelMiddleware, max_body=settings.max_upload_size, body_timeout=settings.request_body_timeout)
    app.add_middleware(UploadMiddleware, files_prefix=f"{settings.mount_path}/files/",
                       max_body=settings.max_upload_size)  # outside the tunnel: file bodies stream
    app.add_middleware(
        CORS, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"],
        expose_headers=["X-Parse-Job-Status-Id", "X-Parse-Push-Status-Id"],
    )
    app.add_middleware(handlers.CatchAllMiddleware)
    # outermost layer: request id in and out, one access line and the HTTP metrics per request
    app.add_middleware(AccessLogMiddleware, observe=observe_request)
    if settings.lean_object_routes:  # in front of all: the busiest object routes, without the layers' cost
        app.add_middleware(LeanObjectRoutes, mount_paths=mount_paths, max_body=settings.max_upload_size,
                           body_timeout=settings.request_body_timeout, observe=observe_request,
                           side_port=settings.metrics_port)
    return app
