"""Runs a JS test file (node's own test runner) with the Parse JS SDK against a live Ballast."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import LiveServer

SDK_DIR = Path(__file__).parent


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is missing: run infra/test.sh, which installs node and the Parse JS SDK.")
    if not (SDK_DIR / "node_modules" / "parse").exists():
        raise RuntimeError("npm package 'parse' is missing: run `npm ci` in tests/sdk (infra/test.sh does).")
    return node


def run_js(script: Path, server: LiveServer, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PARSE_SERVER_URL": server.url,
        "PARSE_APP_ID": APP_ID,
        "PARSE_MASTER_KEY": MASTER_KEY,
    }
    return subprocess.run(
        [node_binary(), "--test", "--test-reporter=spec", str(script)],
        cwd=SDK_DIR, env=env, capture_output=True, text=True, timeout=timeout,
    )
