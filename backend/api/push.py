"""/push: Parse's push route. Ballast has no push adapter, so, as parse-server without push
configuration, a master-key push is refused with 115 and everyone else needs the master key."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.responses import ParseJSON
from backend.deps import Body, MasterCtx
from backend.errors import ParseCode, error_for_code

router = APIRouter(tags=["push"])
PUSH_MISCONFIGURED = 115


@router.post("/push")
async def send_push(body: Body, ctx: MasterCtx) -> ParseJSON:
    if ctx.principal.is_read_only:
        raise error_for_code(ParseCode.OPERATION_FORBIDDEN,
                             "read-only masterKey isn't allowed to send push notifications.")
    raise error_for_code(PUSH_MISCONFIGURED, "Missing push configuration")
