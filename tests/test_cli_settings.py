"""Every ``ballast`` command answers a bad setting in a line or two naming it, exit 2, no traceback; all have help.

The commands are enumerated from the typer app itself, so a command added later is covered without
a line here. In-process (typer's runner) for the whole list; the real binary for a sample and ``--debug``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from backend.cli import app
from tests.support.postgres import free_port

BALLAST = str(Path(sys.executable).parent / "ballast")


def _commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the app, with the words that reach it."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = [path for path, command in _commands() if path and not getattr(command, "commands", None)]
OWN_CHECKS = {("serve",), ("doctor",)}  # check more (the port too), their own way: tests/test_preflight.py


def _corrupt_sqlite(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "ballast.sqlite3").write_bytes(b"this is not a database" * 300)
    return {}


BROKEN: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "refused DATABASE_URL": (lambda _: {"DATABASE_URL": f"postgresql://u:pw-42@127.0.0.1:{free_port()}/db"},
                             "DATABASE_URL: cannot use PostgreSQL at postgresql://127.0.0.1:"),
    "mongodb URL": (lambda _: {"DATABASE_URL": "mongodb://u:pw-42@localhost/app"},
                    "DATABASE_URL: MongoDB is not supported"),
    "corrupt SQLite": (_corrupt_sqlite, "BALLAST_DATA_DIR: "),
    "bad log level": (lambda _: {"BALLAST_LOG_LEVEL": "loud"}, "BALLAST_LOG_LEVEL: not a log level"),
    "bad pool size": (lambda _: {"BALLAST_DATABASE_POOL_SIZE": "lots"}, "BALLAST_DATABASE_POOL_SIZE: "),
}


def _environment(tmp_path: Path, broken: dict[str, str]) -> dict[str, str | None]:
    """The runner's environment: every Ballast and Parse variable of this process unset, then ``broken``."""
    cleared: dict[str, str | None] = {key: None for key in os.environ
                                      if key.startswith(("PARSE_SERVER_", "BALLAST_")) or key in ("DATABASE_URL",
                                                                                                   "REDIS_URL")}
    return cleared | {"BALLAST_DATA_DIR": str(tmp_path / "data"), "BALLAST_CLOUD_CODE_DIR": str(tmp_path / "cloud"),
                      "COLUMNS": "200", **broken}


def test_the_enumeration_finds_the_commands_an_operator_uses() -> None:
    groups = {path[0] for path in COMMANDS}
    assert {"users", "agents", "admins", "jobs", "audit", "files", "approvals", "roles"} <= groups
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_command_names_the_bad_setting_in_a_line_or_two_and_exits_2(tmp_path: Path, case: str) -> None:
    make, expected = BROKEN[case]
    env = _environment(tmp_path, make(tmp_path))
    for path in COMMANDS:
        if path in OWN_CHECKS:
            continue
        result = CliRunner().invoke(app, list(path), env=env)
        said = result.stderr
        assert result.exit_code == 2, f"ballast {' '.join(path)}: {result.output}"
        assert isinstance(result.exception, SystemExit), f"ballast {' '.join(path)}: {result.exception!r}"
        errors = [line for line in said.splitlines() if line.startswith("error ")]
        assert len(errors) == 1 and expected in errors[0], f"ballast {' '.join(path)}: {said}"
        assert "Traceback" not in result.output and "pw-42" not in result.output
        assert len(said.strip().splitlines()) <= 3, said


def test_the_binary_says_the_same_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PARSE_SERVER_", "BALLAST_"))}
    env |= {"BALLAST_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": f"postgresql://u@127.0.0.1:{free_port()}/db",
            "COLUMNS": "200"}
    for words in (["users", "list"], ["agents", "list"], ["admins", "list"], ["jobs", "runs"], ["audit", "verify"],
                  ["files", "orphans"]):
        done = subprocess.run([BALLAST, *words], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error DATABASE_URL: cannot use PostgreSQL"), done.stderr
    debug = subprocess.run([BALLAST, "--debug", "users", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "ConnectionRefusedError" in debug.stderr


def test_every_command_and_group_has_help_that_shows_even_with_a_bad_setting(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"DATABASE_URL": "mongodb://localhost/app"})
    for path, command in _commands():
        assert (command.help or "").strip(), f"ballast {' '.join(path)} has no help text"
        shown = CliRunner().invoke(app, [*path, "--help"], env=env)
        assert shown.exit_code == 0 and "Usage:" in shown.output, f"ballast {' '.join(path)}: {shown.output}"
        for parameter in command.params:
            if parameter.name != "help" and getattr(parameter, "param_type_name", "") == "option":
                assert (parameter.help or "").strip(), f"ballast {' '.join(path)} {parameter.opts[0]}: no help"
