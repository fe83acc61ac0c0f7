"""/installations: _Installation CRUD with parse-server's ID rules and device dedupe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON, created
from backend.context import RequestContext
from backend.deps import Body, Ctx, Objects, Svc, get_services
from backend.services.data.batch import BatchRoutes
from backend.services.data.installations import CLASS, InstallationService
from backend.services.shared.units import Unit
from backend.services.wiring import Services

router = APIRouter(tags=["installations"])


def _installations(request: Request) -> InstallationService:
    return InstallationService(get_services(request).objects)


Installations = Annotated[InstallationService, Depends(_installations)]


@router.post("/installations")
async def create_installation(body: Body, ctx: Ctx, installations: Installations, svc: Svc) -> ParseJSON:
    saved = await installations.create(ctx, body)
    if not saved.created:
        return ParseJSON(saved.body)
    return created(saved.body, f"{svc.settings.public_url}/installations/{saved.body['objectId']}")


@router.get("/installations")
async def find_installations(request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    found = await objects.find(ctx, CLASS, find_options(request))
    return ParseJSON(find_response(found.results, found.count, None))


@router.get("/installations/{object_id}")
async def get_installation(object_id: str, request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    params = request.query_params
    return ParseJSON(await objects.get(ctx, CLASS, object_id, keys=params.get("keys"),
                                       include=params.get("include"), exclude_keys=params.get("excludeKeys")))


@router.put("/installations/{object_id}")
async def update_installation(object_id: str, body: Body, ctx: Ctx, installations: Installations) -> ParseJSON:
    return ParseJSON(await installations.update(ctx, object_id, body))


@router.delete("/installations/{object_id}")
async def delete_installation(object_id: str, ctx: Ctx, objects: Objects) -> ParseJSON:
    await objects.delete(ctx, CLASS, object_id)
    return ParseJSON({})


def installation_routes(routes: BatchRoutes, services: Services) -> None:
    """The /installations writes a batch may carry."""
    service = InstallationService(services.objects)

    async def create(ctx: RequestContext, _: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return (await service.create(ctx, body, unit=unit)).body

    async def update(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await service.update(ctx, p["objectId"], body, unit=unit)

    async def delete(ctx: RequestContext, p: Mapping[str, str], _: dict[str, Any], unit: Unit | None) -> Any:
        await services.objects.delete(ctx, CLASS, p["objectId"], unit=unit)
        return {}

    for prefix in ("/installations", f"/classes/{CLASS}"):
        routes.add("POST", prefix, create)
        routes.add("PUT", prefix + "/{objectId}", update)
    routes.add("DELETE", "/installations/{objectId}", delete)
