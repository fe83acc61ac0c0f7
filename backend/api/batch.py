"""/batch: many calls in one request (the JS SDK's saveAll / destroyAll), dispatched to the services."""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, Request

from backend.api.installations import installation_routes
from backend.api.responses import ParseJSON
from backend.api.sessions import session_routes
from backend.api.users import user_routes
from backend.deps import Body, Ctx
from backend.services.data.batch import BatchRoutes, BatchService, class_routes
from backend.services.wiring import Services

router = APIRouter(tags=["batch"])


def batch_service(request: Request) -> BatchService:
    """One per app: the route table is built once, from the app's services."""
    service: BatchService | None = getattr(request.app.state, "batch_service", None)
    if service is None:
        services: Services = request.app.state.services
        routes = BatchRoutes()
        # before the generic class routes: these classes have rules of their own
        installation_routes(routes, services)
        user_routes(routes, services)
        session_routes(routes, services)
        class_routes(services.objects, routes)
        settings = services.settings
        prefixes = [settings.mount_path, urlparse(settings.public_url).path or settings.mount_path,
                    *settings.extra_mount_paths]
        service = BatchService(services.db, routes, settings.batch_limit, prefixes, services.limits)
        request.app.state.batch_service = service
    return service


@router.post("/batch")
async def run_batch(request: Request, body: Body, ctx: Ctx) -> ParseJSON:
    return ParseJSON(await batch_service(request).run(ctx, body))
