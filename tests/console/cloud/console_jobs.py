"""A job for the console's browser tests: it reports progress for a moment, then succeeds."""

import asyncio

from backend.cloud import cloud


@cloud.job("countdown")
async def countdown(req):  # type: ignore[no-untyped-def]
    for step in range(1, 6):
        await req.progress(f"{step}/5 steps")
        await asyncio.sleep(0.3)
    return "done"
