"""The built-in tools: reading and writing app data, cloud functions, jobs, approval status."""

from __future__ import annotations

from agent_tools.registry import ToolRegistry


def builtin_registry() -> ToolRegistry:
    """A fresh registry holding every built-in tool (an app adds its own with ``registry.tool``)."""
    from agent_tools.tools import data, operations, writes

    registry = ToolRegistry()
    for module in (data, writes, operations):
        module.register(registry)
    return registry
