"""Development mode: reload cloud code when a module of its folder changes (watchfiles)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import awatch

log = logging.getLogger("ballast.cloud")


async def watch(folder: Path, reload: Callable[[], None]) -> None:
    """Call ``reload`` after every change to a ``.py`` file under ``folder``; a broken module is logged, not fatal."""
    async for changes in awatch(folder, watch_filter=lambda _, path: path.endswith(".py")):
        try:
            reload()
        except Exception:  # keep serving the previous registry's survivors; the developer sees the traceback
            log.exception("cloud code reload failed after %d change(s)", len(changes))
        else:
            log.info("cloud code reloaded after %d change(s)", len(changes))
