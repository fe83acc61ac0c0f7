"""/health and /serverInfo."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.responses import ParseJSON
from backend.deps import MasterCtx, Svc

router = APIRouter(tags=["server"])

PARSE_SERVER_COMPAT_VERSION = "9.0.0"  # the Parse Server whose API we answer as


@router.get("/health")
async def health() -> ParseJSON:
    return ParseJSON({"status": "ok"})


@router.get("/serverInfo")
async def server_info(ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON({
        "parseServerVersion": PARSE_SERVER_COMPAT_VERSION,
        "database": svc.store.name,
        "features": {
            "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
            # Parse Dashboard shows its Jobs page (list, run, status, schedules) only when this is declared
            "cloudCode": {"jobs": True},
            "schemas": {"addField": True, "removeField": True, "addClass": True, "removeClass": True,
                        "clearAllDataFromClass": True, "editClassLevelPermissions": True},
        },
    })
