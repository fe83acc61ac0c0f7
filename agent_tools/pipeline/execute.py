"""Running the tool: on a live ToolContext in the caller's unit, or as a preview in a unit that rolls back.

Also which way a write goes before its tool runs (``way``), and what a tool's error says (``failure``).
"""

from __future__ import annotations

import logging
from typing import Any

from agent_tools.model.tool_context import Mode, Rollback, ToolContext
from agent_tools.model.tool_context import dump_output as _dump
from agent_tools.pipeline.call import Call, Failure, GatewayParts
from agent_tools.pipeline.retries import check_same
from agent_tools.stores.policy import Decision
from backend.errors import ParseError, status_for
from backend.services.shared.units import Unit

log = logging.getLogger("ballast.agent_tools")


class Detour(Exception):
    """Leaves the write unit (rolling it back) to go another way: replay, propose, or run outside it."""

    def __init__(self, action: str, payload: Any = None) -> None:
        super().__init__(action)
        self.action, self.payload = action, payload


async def way(tools: GatewayParts, call: Call, decision: Decision, unit: Unit) -> None:
    """A write runs here, in its unit, unless it is a retry, needs approval or writes on its own (``Detour``)."""
    assert call.agent is not None and call.tool is not None
    key = call.request.idempotency_key
    if key and (first := await tools.audit.find_key(call.agent.id, key, unit)):
        check_same(key, call.tool.name, call.normalised(), first.get("tool"), first.get("input"))
        raise Detour("replay", first)
    if decision.kind == "needs_approval":
        raise Detour("propose")
    if not call.tool.transactional:
        raise Detour("outside")


async def run(tools: GatewayParts, call: Call, unit: Unit) -> tuple[ToolContext, Any]:
    """The handler on a live context: its context (what it read and changed) and its raw output."""
    assert call.tool is not None
    context = _context(tools, call, unit, Mode.LIVE)
    return context, await call.tool.handler(context, call.input)


async def run_dumped(tools: GatewayParts, call: Call, unit: Unit) -> tuple[ToolContext, dict[str, Any]]:
    """``run``, its output as the JSON the caller and the record get."""
    context, output = await run(tools, call, unit)
    return context, _dump(output)


async def preview(tools: GatewayParts, call: Call) -> ToolContext:
    """Dry-run the write in a unit that rolls back: the context holds what it would change."""
    assert call.tool is not None
    try:
        async with tools.services.db.unit(resumable=False) as unit:
            context = _context(tools, call, unit, Mode.PREVIEW)
            await call.tool.handler(context, call.input)
            raise Rollback()
    except Rollback:
        pass
    return context


def failure(call: Call, error: Exception) -> Failure:
    """A Parse error as itself; anything else logged here and answered as a plain failure."""
    if isinstance(error, ParseError):
        return Failure(status_for(error), int(error.code), error.message)
    log.exception("tool %s failed", call.request.tool, exc_info=error)
    return Failure(500, 1, f"Tool {call.request.tool} failed; nothing was changed.")


def _context(tools: GatewayParts, call: Call, unit: Unit, mode: Mode) -> ToolContext:
    assert call.agent is not None and call.tool is not None
    request = tools.request_context(call.agent, call.user)
    restrict = call.agent.principal if call.user is not None else None
    tool = call.shaper.tool(call.tool) if call.shaper is not None else call.tool
    services, jobs = tools.handles_for(call.tool.kind)
    return ToolContext(request, services, unit, tool, mode, jobs, restrict=restrict, shaper=call.shaper)
