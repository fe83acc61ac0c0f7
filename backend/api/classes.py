"""/classes/{className}: create, query, get, update, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.installations import create_installation, update_installation
from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON, created
from backend.deps import Body, Ctx, Objects, Svc
from backend.services.installations import CLASS as INSTALLATION
from backend.services.installations import InstallationService

router = APIRouter(tags=["objects"])


@router.post("/classes/{class_name}")
async def create_object(class_name: str, body: Body, ctx: Ctx, objects: Objects, svc: Svc) -> ParseJSON:
    if class_name == INSTALLATION:  # parse-server applies the installation rules on /classes/_Installation too
        return await create_installation(body, ctx, InstallationService(objects), svc)
    saved = await objects.create(ctx, class_name, body)
    return created(saved, f"{svc.settings.public_url}/classes/{class_name}/{saved['objectId']}")


@router.get("/classes/{class_name}")
async def find_objects(class_name: str, request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    found = await objects.find(ctx, class_name, find_options(request))
    return ParseJSON(find_response(found.results, found.count, found.class_name))


@router.get("/classes/{class_name}/{object_id}")
async def get_object(class_name: str, object_id: str, request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    params = request.query_params
    obj = await objects.get(
        ctx, class_name, object_id,
        keys=params.get("keys"), include=params.get("include"), exclude_keys=params.get("excludeKeys"),
    )
    return ParseJSON(obj)


@router.put("/classes/{class_name}/{object_id}")
async def update_object(class_name: str, object_id: str, body: Body, ctx: Ctx, objects: Objects) -> ParseJSON:
    if class_name == INSTALLATION:
        return await update_installation(object_id, body, ctx, InstallationService(objects))
    return ParseJSON(await objects.update(ctx, class_name, object_id, body))


@router.delete("/classes/{class_name}/{object_id}")
async def delete_object(class_name: str, object_id: str, ctx: Ctx, objects: Objects) -> ParseJSON:
    await objects.delete(ctx, class_name, object_id)
    return ParseJSON({})
