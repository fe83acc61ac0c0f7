"""/events/*: Parse's analytics routes. Like parse-server's default analytics adapter, Ballast
accepts an event and keeps nothing, so SDK calls such as ``Parse.Analytics.track`` resolve."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.responses import ParseJSON
from backend.deps import Body, Ctx

router = APIRouter(tags=["analytics"])


@router.post("/events/{event_name}")
async def track_event(event_name: str, body: Body, ctx: Ctx) -> ParseJSON:
    return ParseJSON({})
