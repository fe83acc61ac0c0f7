"""Long CLI work shows progress on a terminal, and nothing of it when stderr is a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

BALLAST = str(Path(sys.executable).parent / "ballast")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PARSE_SERVER_", "BALLAST_"))}
    return env | {"BALLAST_DATA_DIR": str(tmp_path / "data"), "BALLAST_CLOUD_CODE_DIR": str(tmp_path / "cloud"),
                  "TERM": "xterm", "COLUMNS": "100"}


def test_orphan_scan_shows_a_spinner_on_a_terminal_and_not_on_a_pipe(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([BALLAST, "files", "orphans"], env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=follower, timeout=120)
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"scanning objects and stored files" in drawn and b"orphaned" in drawn  # spinner, then the result
    piped = subprocess.run([BALLAST, "files", "orphans"], env=_env(tmp_path), capture_output=True, text=True,
                           timeout=120)
    assert piped.stderr.strip() == "0 orphaned file(s) found."


def test_audit_export_counts_records_and_keeps_stdout_clean(tmp_path: Path) -> None:
    done = subprocess.run([BALLAST, "audit", "export"], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr.strip() == "0 records"
