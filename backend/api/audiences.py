"""/push_audiences: saved push audiences (``_Audience``), master key only, as parse-server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from backend.api.params import find_options
from backend.api.responses import ParseJSON, created
from backend.deps import Body, MasterCtx, Svc, get_services
from backend.services.data.audiences import AudienceService

router = APIRouter(tags=["push"])


def _audiences(request: Request) -> AudienceService:
    return AudienceService(get_services(request).objects)


Audiences = Annotated[AudienceService, Depends(_audiences)]


@router.post("/push_audiences")
async def create_audience(body: Body, ctx: MasterCtx, audiences: Audiences, svc: Svc) -> ParseJSON:
    saved = await audiences.create(ctx, body)
    return created(saved, f"{svc.settings.public_url}/push_audiences/{saved['objectId']}")


@router.get("/push_audiences")
async def find_audiences(request: Request, ctx: MasterCtx, audiences: Audiences) -> ParseJSON:
    return ParseJSON({"results": await audiences.find(ctx, find_options(request))})


@router.get("/push_audiences/{object_id}")
async def get_audience(object_id: str, ctx: MasterCtx, audiences: Audiences) -> ParseJSON:
    return ParseJSON(await audiences.get(ctx, object_id))


@router.put("/push_audiences/{object_id}")
async def update_audience(object_id: str, body: Body, ctx: MasterCtx, audiences: Audiences) -> ParseJSON:
    return ParseJSON(await audiences.update(ctx, object_id, body))


@router.delete("/push_audiences/{object_id}")
async def delete_audience(object_id: str, ctx: MasterCtx, audiences: Audiences) -> ParseJSON:
    await audiences.delete(ctx, object_id)
    return ParseJSON({})
