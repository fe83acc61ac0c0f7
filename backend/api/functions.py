"""/functions/{name}: run a cloud function (``Parse.Cloud.run``) and answer ``{"result": ...}``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.credentials import without_credentials
from backend.api.responses import ParseJSON
from backend.deps import Body, Ctx, Svc

router = APIRouter(tags=["cloud"])


@router.post("/functions/{name}")
async def run_function(name: str, body: Body, request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    result = await svc.cloud.run_function(ctx, name, body, without_credentials(dict(request.headers.items())))
    # Parse answers a function that returns nothing with {} (JSON drops undefined): the SDK gets undefined
    return ParseJSON({} if result is None else {"result": result})
