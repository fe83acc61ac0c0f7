"""/config: the app's Parse Config (GET for everyone, PUT with the master key)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.responses import ParseJSON
from backend.deps import Body, Config, Ctx, MasterCtx

router = APIRouter(tags=["config"])


@router.get("/config")
async def get_config(ctx: Ctx, config: Config) -> ParseJSON:
    return ParseJSON(await config.read(ctx))


@router.put("/config")
async def update_config(body: Body, ctx: MasterCtx, config: Config) -> ParseJSON:
    await config.write(ctx, body)
    return ParseJSON({"result": True})
