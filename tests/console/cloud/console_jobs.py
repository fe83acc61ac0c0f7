"""A job for the console's browser tests: it reports progress for a moment, then succeeds."""

import asyncio

from backend.cloud import cloud
from jobs.request import JobRequest


@cloud.job("countdown")
async def countdown(req: JobRequest) -> str:
    for step in range(1, 6):
        await req.progress(f"{step}/5 steps")
        await asyncio.sleep(0.3)
    return "done"


@cloud.job("flaky")
async def flaky(req: JobRequest) -> str:
    """Fails unless its params say otherwise: what the console's retry test runs."""
    if not req.params.get("ok"):
        raise RuntimeError("the upstream was down")
    await req.progress("recovered")
    return "done"
