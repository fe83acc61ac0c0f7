"""The model: what a tool declares and holds while it runs; imports nothing of agent_tools above it.

* registry.py      the ``@tool`` decorator, Tool, ToolRegistry, ContextScope
* tool_context.py  ToolContext (a tool's one way to data), Change, Mode, NeedsApproval, dump_output
* redaction.py     fields no tool returns, class and field checks
* bounds.py        input bounded at the edge, and the bounded form the audit keeps
* blocked.py       Blocked: a call stopped by a rule
"""
