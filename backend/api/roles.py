"""/roles: Parse's alias of /classes/_Role (the rules are the ``_Role`` guard's)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON, created
from backend.deps import Body, Ctx, Objects, Svc

router = APIRouter(tags=["roles"])
ROLES = "_Role"


@router.post("/roles")
async def create_role(body: Body, ctx: Ctx, objects: Objects, svc: Svc) -> ParseJSON:
    saved = await objects.create(ctx, ROLES, body)
    return created(saved, f"{svc.settings.public_url}/roles/{saved['objectId']}")


@router.get("/roles")
async def find_roles(request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    found = await objects.find(ctx, ROLES, find_options(request))
    return ParseJSON(find_response(found.results, found.count, found.class_name))


@router.get("/roles/{object_id}")
async def get_role(object_id: str, request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    params = request.query_params
    return ParseJSON(await objects.get(ctx, ROLES, object_id, keys=params.get("keys"), include=params.get("include")))


@router.put("/roles/{object_id}")
async def update_role(object_id: str, body: Body, ctx: Ctx, objects: Objects) -> ParseJSON:
    return ParseJSON(await objects.update(ctx, ROLES, object_id, body))


@router.delete("/roles/{object_id}")
async def delete_role(object_id: str, ctx: Ctx, objects: Objects) -> ParseJSON:
    await objects.delete(ctx, ROLES, object_id)
    return ParseJSON({})
