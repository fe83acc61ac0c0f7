"""Readiness: can this instance serve? Each dependency is tried at once, with a deadline.

Liveness (``/health``) only says the process answers; readiness says its database, files store and,
when configured, Redis answer too, so a load balancer or Kubernetes stops sending it traffic while
one is away, and sends it again when it is back. A failed check names its dependency and the kind of
error, never a URL or credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger("ballast.readiness")
Check = Callable[[], Awaitable[None]]


async def _one(name: str, check: Check, timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %.1f s", name, timeout)
        return "timeout"
    except Exception as error:
        log.warning("readiness: %s unreachable: %s", name, type(error).__name__)
        return f"unreachable ({type(error).__name__})"
    return "ok"


async def readiness(checks: Mapping[str, Check], timeout: float = 2.0) -> dict[str, str]:
    """Every check's outcome: ``ok``, ``timeout`` or ``unreachable (<error kind>)``."""
    outcomes = await asyncio.gather(*(_one(name, check, timeout) for name, check in checks.items()))
    return dict(zip(checks, outcomes, strict=True))
