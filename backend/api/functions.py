"""/functions/{name}: run a cloud function (``Parse.Cloud.run``) and answer ``{"result": ...}``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.responses import ParseJSON
from backend.deps import Body, Ctx, Svc

router = APIRouter(tags=["cloud"])
SECRET_HEADERS = frozenset({"x-parse-master-key", "x-parse-session-token", "authorization", "cookie"})


@router.post("/functions/{name}")
async def run_function(name: str, body: Body, request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    headers = {key: value for key, value in request.headers.items() if key not in SECRET_HEADERS}
    result = await svc.cloud.run_function(ctx, name, body, headers)
    # Parse answers a function that returns nothing with {} (JSON drops undefined): the SDK gets undefined
    return ParseJSON({} if result is None else {"result": result})
