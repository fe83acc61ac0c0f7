"""A child process that prints what it has acknowledged, killed (SIGKILL) once it has printed enough."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def acknowledged_until_killed(module: str, arguments: list[str], count: int) -> list[str]:
    """Run ``python -m module arguments``; read ``count`` lines it printed, then kill it and answer them."""
    process = subprocess.Popen([sys.executable, "-m", module, *arguments], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ})
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while len(lines) < count:
            line = await asyncio.to_thread(process.stdout.readline)
            assert line, f"{module} stopped before it was killed"
            lines.append(line.strip())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    return lines
