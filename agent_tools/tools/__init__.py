"""The built-in tools: reading and writing app data, cloud functions, jobs, approval status."""

from __future__ import annotations

from agent_tools.model.registry import ToolRegistry


def builtin_registry() -> ToolRegistry:
    """A fresh registry holding every built-in tool and the app's own (``agent_tools.model.registry.tool``)."""
    from agent_tools.model.registry import app_tools
    from agent_tools.tools import data, operations, writes

    registry = ToolRegistry(extra=app_tools)  # the app's own @tool functions, whenever its cloud code loads
    for module in (data, writes, operations):
        module.register(registry)
    return registry
