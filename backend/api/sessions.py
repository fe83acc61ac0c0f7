"""/sessions and /sessions/me: a user's revocable sessions (read, and delete to revoke)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request

from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON
from backend.context import RequestContext
from backend.deps import Body, Ctx, Objects, Svc
from backend.services.data.batch import BatchRoutes
from backend.services.shared.units import Unit
from backend.services.wiring import Services

router = APIRouter(tags=["sessions"])
SESSIONS = "_Session"


@router.get("/sessions/me")
async def current_session(ctx: Ctx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.identity.accounts.current_session(ctx))


@router.get("/sessions")
async def find_sessions(request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    found = await objects.find(ctx, SESSIONS, find_options(request))
    return ParseJSON(find_response(found.results, found.count, found.class_name))


@router.get("/sessions/{object_id}")
async def get_session(object_id: str, ctx: Ctx, objects: Objects) -> ParseJSON:
    return ParseJSON(await objects.get(ctx, SESSIONS, object_id))


@router.put("/sessions/{object_id}")
async def update_session(object_id: str, body: Body, ctx: Ctx, objects: Objects) -> ParseJSON:
    return ParseJSON(await objects.update(ctx, SESSIONS, object_id, body))


@router.delete("/sessions/{object_id}")
async def revoke_session(object_id: str, ctx: Ctx, svc: Svc) -> ParseJSON:
    await svc.identity.accounts.revoke_session(ctx, object_id)
    return ParseJSON({})


def session_routes(routes: BatchRoutes, services: Services) -> None:
    """DELETE /sessions/:id in a batch revokes as the REST route does (the revocation is recorded)."""

    async def revoke(ctx: RequestContext, p: Mapping[str, str], _: dict[str, Any], unit: Unit | None) -> Any:
        await services.identity.accounts.revoke_session(ctx, p["objectId"], unit)
        return {}

    routes.add("DELETE", "/sessions/{objectId}", revoke)
