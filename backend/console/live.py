"""Server-sent events for the console: a ping whenever an approval changes, on any instance.

The stream is a server-side observer of ``_Approval`` on the LiveQuery hub, so changes arrive through
the same PubSub as LiveQuery (in-process, or Redis between instances). Each ping only says "changed";
the page then fetches its cards again, so what it shows always comes from the approvals service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from agent_tools.stores.classes import APPROVAL
from backend.console.web import HEADERS, PREFIX, Site, Viewer
from backend.context import MASTER
from backend.realtime.clients import Client
from backend.realtime.hub import Hub

router = APIRouter(prefix=PREFIX, include_in_schema=False)
KEEPALIVE_SECONDS = 15.0


@router.get("/events")
async def events(site: Site, _: Viewer) -> StreamingResponse:
    headers = HEADERS | {"X-Accel-Buffering": "no"}  # nginx must not hold the stream back
    return StreamingResponse(approval_pings(site.hub), media_type="text/event-stream", headers=headers)


async def approval_pings(hub: Hub) -> AsyncIterator[str]:
    changed = asyncio.Event()

    def note(_: bytes) -> bool:  # the hub's non-awaiting write: a flag, since one ping covers any number
        changed.set()
        return True

    async def unused_send(_: bytes) -> None:
        changed.set()

    async def unused_close(code: int, reason: str) -> None:
        changed.set()

    client = Client(unused_send, unused_close, 16, MASTER, send_now=note)
    await hub.connect(client)
    try:
        await hub.observe(client, APPROVAL)
        yield "retry: 2000\n\n"
        while not client.closed:
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            changed.clear()
            yield "event: approvals\ndata: changed\n\n"
    finally:
        await hub.disconnect(client)
