"""``ballast jobs`` against a real SQLite data folder: run, runs, show, list, pause/resume, cancel, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli import app


@pytest.fixture
def ballast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("BALLAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARSE_SERVER_MASTER_KEY", "cli-master-key")
    monkeypatch.delenv("PARSE_SERVER_DATABASE_URI", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return CliRunner()


def test_run_then_history_and_details(ballast: CliRunner) -> None:
    ran = ballast.invoke(app, ["jobs", "run", "ballast.pruneJobRuns", "--params", '{"days": 9}'])
    assert ran.exit_code == 0, ran.output
    assert "succeeded" in ran.output and "older than 9 day(s)" in ran.output
    run_id = re.search(r"objectId\s*│\s*(\w{10})", ran.output)
    assert run_id is not None
    history = ballast.invoke(app, ["jobs", "runs", "--job", "ballast.pruneJobRuns"])
    assert history.exit_code == 0 and run_id.group(1)[:6] in history.output
    shown = ballast.invoke(app, ["jobs", "show", run_id.group(1)])
    assert shown.exit_code == 0 and "ballast.pruneJobRuns" in shown.output
    listed = ballast.invoke(app, ["jobs", "list"])
    assert listed.exit_code == 0 and "ballast.sessionCleanup" in listed.output


def test_a_failing_job_exits_non_zero_and_shows_the_error(ballast: CliRunner) -> None:
    ran = ballast.invoke(app, ["jobs", "run", "ballast.pruneJobRuns", "--params", '{"days": -1}'])
    assert ran.exit_code == 1 and "failed" in ran.output and "days must be" in ran.output


def test_bad_input_is_a_clear_error(ballast: CliRunner) -> None:
    unknown = ballast.invoke(app, ["jobs", "run", "noSuchJob"])
    assert unknown.exit_code == 1 and "Invalid job." in unknown.output
    bad_params = ballast.invoke(app, ["jobs", "run", "ballast.sessionCleanup", "--params", "[1"])
    assert bad_params.exit_code == 2
    missing = ballast.invoke(app, ["jobs", "show", "nope123456"])
    assert missing.exit_code == 1 and "No such job run" in missing.output
    assert ballast.invoke(app, ["jobs", "cancel", "nope123456"]).exit_code == 1
    assert ballast.invoke(app, ["jobs", "pause", "nope123456"]).exit_code == 1
