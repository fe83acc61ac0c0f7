"""``ballast users`` and ``ballast roles`` against a real database (both engines), as an admin runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli import app


@pytest.fixture
def env(database_uri: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARSE_SERVER_MASTER_KEY", "cli-master")
    if database_uri:
        monkeypatch.setenv("PARSE_SERVER_DATABASE_URI", database_uri)


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_and_roles_commands(env: None) -> None:
    run("users", "create", "ada", "--password", "pw-ada-1", "--email", "ada@example.com")
    run("users", "create", "bob", "--password", "pw-bob-1")
    listed = run("users", "list")
    assert "ada" in listed and "ada@example.com" in listed and "bob" in listed
    taken = CliRunner().invoke(app, ["users", "create", "ADA", "--password", "x"])
    assert taken.exit_code == 1 and "202" in taken.output
    run("roles", "create", "Admins")
    run("roles", "create", "Helpers")
    run("roles", "add-user", "Admins", "ada")
    run("roles", "add-user", "Helpers", "bob")
    run("roles", "add-child", "Admins", "Helpers")
    roles = run("roles", "list")
    assert "Admins" in roles and "ada" in roles and "Helpers" in roles
    bad = CliRunner().invoke(app, ["roles", "create", "no/slashes"])
    assert bad.exit_code == 1 and "139" in bad.output
    run("users", "set-password", "bob", stdin="new-pw-2\nnew-pw-2\n")
    run("users", "delete", "bob")
    assert "bob" not in run("users", "list")
