"""The live-server ``site`` fixture of the MCP tests, shared with tests/agent_tools."""

from tests.agent_tools.conftest import site

__all__ = ["site"]
