"""``ballast admins ...``: the CLI makes console admins; their passwords never show (both engines)."""

from __future__ import annotations

from typer.testing import CliRunner

from agent_tools.stores.admins import AdminLoginFailed
from agent_tools.wiring import AgentTools
from backend.cli import app
from backend.config import Settings
from tests.agent_tools.test_cli import _env, _in_process


def test_cli_creates_lists_changes_and_disables_admins(settings: Settings) -> None:
    runner, env = CliRunner(), _env(settings)
    made = runner.invoke(app, ["admins", "create", "alice", "--role", "viewer", "--password-stdin"],
                         input="a long enough secret\n", env=env)
    assert made.exit_code == 0, made.output
    short = runner.invoke(app, ["admins", "create", "bob", "--password-stdin"], input="short\n", env=env)
    assert short.exit_code == 1 and "password" in short.output
    listed = runner.invoke(app, ["admins", "list"], env=env)
    assert "alice" in listed.output and "viewer" in listed.output and "$2" not in listed.output

    async def sign_in(tools: AgentTools, password: str = "a long enough secret") -> bool:
        try:
            session = await tools.admins.authenticate("alice", password)
        except AdminLoginFailed:
            return False
        return await tools.admins.resolve(session.token) is not None

    assert _in_process(settings, sign_in) is True
    changed = runner.invoke(app, ["admins", "passwd", "alice", "--password-stdin"], input="another secret!\n", env=env)
    assert changed.exit_code == 0, changed.output
    assert _in_process(settings, sign_in) is False
    assert _in_process(settings, lambda tools: sign_in(tools, "another secret!")) is True
    disabled = runner.invoke(app, ["admins", "disable", "alice"], env=env)
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    assert _in_process(settings, lambda tools: sign_in(tools, "another secret!")) is False
