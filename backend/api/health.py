"""/health (liveness: the process answers), /health/ready (its dependencies answer too) and /serverInfo."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.responses import ParseJSON
from backend.deps import MasterCtx, Svc
from backend.services.shared.readiness import readiness

router = APIRouter(tags=["server"])

PARSE_SERVER_COMPAT_VERSION = "9.0.0"  # the Parse Server whose API we answer as


@router.get("/health")
async def health() -> ParseJSON:
    return ParseJSON({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request, svc: Svc) -> ParseJSON:
    """Readiness: 200 when the database, the files store and (when configured) Redis answer, else 503."""
    checks = {"database": svc.store.ping, "files": svc.files.adapter.ping}
    if svc.settings.redis_url:
        checks["redis"] = request.app.state.live_query.hub.pubsub.ping
    outcomes = await readiness(checks)
    ok = all(outcome == "ok" for outcome in outcomes.values())
    return ParseJSON({"status": "ok" if ok else "unavailable", "checks": outcomes}, status_code=200 if ok else 503)


@router.get("/serverInfo")
async def server_info(ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON({
        "parseServerVersion": PARSE_SERVER_COMPAT_VERSION,
        "database": svc.store.name,
        "features": {
            "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
            # Parse Dashboard shows its Jobs page (list, run, status, schedules) only when this is declared
            "cloudCode": {"jobs": True},
            # ... and its Webhooks and Logs pages only when these are
            "hooks": {"create": True, "read": True, "update": True, "delete": True},
            "logs": {"level": True, "size": True, "order": True, "until": True, "from": True},
            "schemas": {"addField": True, "removeField": True, "addClass": True, "removeClass": True,
                        "clearAllDataFromClass": True, "editClassLevelPermissions": True},
        },
    })
