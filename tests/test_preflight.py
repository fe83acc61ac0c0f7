"""Misconfigured starts: ``ballast serve`` names the setting and the fix in a line or two, exits 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.postgres import free_port

BALLAST = str(Path(sys.executable).parent / "ballast")


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("PARSE_SERVER_", "BALLAST_")) and key not in ("REDIS_URL", "DATABASE_URL")}
    base |= {"BALLAST_DATA_DIR": str(tmp_path / "data"), "BALLAST_CLOUD_CODE_DIR": str(tmp_path / "cloud"),
             "PARSE_SERVER_PORT": str(free_port()), "COLUMNS": "80"}
    return subprocess.run([BALLAST, *(args or ("serve",))], env=base | env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


def _corrupt(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ballast.sqlite3").write_bytes(b"not a database, honestly" * 400)
    return {}


def _file_as_data_dir(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "afile").write_text("x")
    return {"BALLAST_DATA_DIR": str(tmp_path / "afile")}


CASES: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "refused PostgreSQL": (lambda _: {"PARSE_SERVER_DATABASE_URI": f"postgresql://u:pw-42@127.0.0.1:{free_port()}/db"},
                           "PARSE_SERVER_DATABASE_URI: cannot use PostgreSQL at postgresql://127.0.0.1:"),
    "mongodb URL": (lambda _: {"PARSE_SERVER_DATABASE_URI": "mongodb://u:pw-42@localhost:27017/app"},
                    "PARSE_SERVER_DATABASE_URI: MongoDB is not supported"),
    "master key IPs": (lambda _: {"PARSE_SERVER_MASTER_KEY_IPS": "10.0.0.0/8,not-an-ip"},
                       "PARSE_SERVER_MASTER_KEY_IPS: not an IP address or network: 'not-an-ip'"),
    "corrupt SQLite": (_corrupt, "is not a usable SQLite database (file is not a database)"),
    "data dir is a file": (_file_as_data_dir, "BALLAST_DATA_DIR:"),
    "unreachable S3": (lambda _: {"BALLAST_S3_BUCKET": "b", "BALLAST_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                                  "BALLAST_S3_ACCESS_KEY_ID": "a", "BALLAST_S3_SECRET_ACCESS_KEY": "pw-42"},
                       "BALLAST_S3_BUCKET: cannot reach S3 bucket b at http://127.0.0.1:"),
    "unreachable Redis": (lambda _: {"REDIS_URL": f"redis://:pw-42@127.0.0.1:{free_port()}/0"},
                          "REDIS_URL: cannot reach Redis at redis://127.0.0.1:"),
    "log level": (lambda _: {"BALLAST_LOG_LEVEL": "loud"}, "BALLAST_LOG_LEVEL: not a log level: 'loud'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_setting_is_one_clear_problem_and_exit_2(tmp_path: Path, case: str) -> None:
    make_env, expected = CASES[case]
    done = _run(tmp_path, make_env(tmp_path))
    assert done.returncode == 2, done.stderr
    problem = [line for line in done.stderr.splitlines() if line.startswith("error ")]
    assert len(problem) == 1 and expected in problem[0], done.stderr
    assert "  fix: " in done.stderr and "Traceback" not in done.stderr and "pw-42" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3


def test_a_busy_port_is_named_with_the_way_out(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = _run(tmp_path, {"PARSE_SERVER_PORT": str(port)})
    assert done.returncode == 2
    assert f"PARSE_SERVER_PORT: 127.0.0.1:{port} is in use by another process" in done.stderr
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback_and_doctor_checks_without_serving(tmp_path: Path) -> None:
    env = {"PARSE_SERVER_DATABASE_URI": f"postgresql://u@127.0.0.1:{free_port()}/db"}
    debug = _run(tmp_path, env, "serve", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "ConnectionRefusedError" in debug.stderr
    doctor = _run(tmp_path, env, "doctor")
    assert doctor.returncode == 2 and "problem database" in doctor.stderr and "ok      data folder" in doctor.stderr
    healthy = _run(tmp_path, {}, "doctor")
    assert healthy.returncode == 0, healthy.stderr
    assert "ok      database     SQLite at" in healthy.stderr and "ok      port" in healthy.stderr


def test_a_metrics_port_that_is_the_public_one_or_busy_is_refused(tmp_path: Path) -> None:
    port = free_port()
    same = _run(tmp_path, {"PARSE_SERVER_PORT": str(port), "BALLAST_METRICS_PORT": str(port)})
    assert same.returncode == 2, same.stderr
    assert f"BALLAST_METRICS_PORT: {port} is the public port too, so /metrics would stay public" in same.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        done = _run(tmp_path, {}, "serve", "--metrics-port", str(busy))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"BALLAST_METRICS_PORT: 127.0.0.1:{busy} is in use by another process" in done.stderr
    assert "--metrics-port" in done.stderr
