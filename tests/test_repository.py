"""The repository is self-contained: a user's clone has the architecture map and the benchmarks' reference server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_nothing_points_outside_the_checkout() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = [name for name in tracked if name != "uv.lock" and (ROOT / name).is_file()
               and ("../shared" in (ROOT / name).read_text(errors="replace")
                    or "DESIGN.md" in (ROOT / name).read_text(errors="replace"))]
    assert outside == [] or outside == ["tests/test_repository.py"], outside
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "architecture.md").is_file()


def test_the_benchmarks_reference_parse_server_is_pinned_here() -> None:
    folder = ROOT / "benchmarks" / "parse_server"
    lock = json.loads((folder / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/parse-server"]["version"] == "9.10.0"
    assert lock["packages"]["node_modules/router"]["version"] == "2.2.0"  # 2.3.0 breaks parse-server's /batch
    start = (folder / "start.sh").read_text()
    assert "npm ci" in start and (folder / "server.js").is_file() and (folder / "stop.sh").is_file()
    from benchmarks.servers import ANCHOR_START

    assert folder / "start.sh" == ANCHOR_START
