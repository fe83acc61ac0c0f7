"""How agents behave over a time window: calls over time, per agent and per tool, denials by rule, approvals.

Every number is an indexed SQL ``COUNT`` through ``Records`` (the audit's indexed copies: agentId, tool,
decision, rule, createdAt); no audit record is loaded into Python. The distinct agents, tools and rules of
a window are found by skipping through the index (the next value above the last, one row at a time), so a
million records cost a few dozen indexed look-ups, not a scan.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent_tools.stores.classes import APPROVAL, SYSTEM, TOOL_CALL
from agent_tools.wiring import AgentTools
from backend import wire
from backend.services.data.objects import FindOptions

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
BUCKETS = 12
DISTINCT = 25  # agents, tools and rules shown per window (the busiest are usually few)
DECIDED = 1000  # decided approvals read for the median time to decide (newest first)
DENIED = {"decision": {"$in": ["deny", "denied"]}}  # refused by a policy rule, or by an admin's decision


@dataclass
class Count:
    """One row of a breakdown: a name and its counts."""

    name: str
    calls: int = 0
    denied: int = 0
    ok: int = 0
    kind: str = ""


@dataclass
class Insights:
    window: str
    since: datetime
    until: datetime
    buckets: list[Count] = field(default_factory=list)  # name: the bucket's start, HH:MM or MM-DD HH:MM
    agents: list[Count] = field(default_factory=list)
    tools: list[Count] = field(default_factory=list)
    rules: list[Count] = field(default_factory=list)
    pending: int = 0
    decided: int = 0
    median_decide_seconds: float | None = None

    @property
    def total(self) -> int:
        return sum(bucket.calls for bucket in self.buckets)

    @property
    def writes(self) -> int:
        """Write-tool calls that ran (allowed and succeeded)."""
        return sum(tool.ok for tool in self.tools if tool.kind == "write")


def _date(moment: datetime) -> dict[str, str]:
    return {"__type": "Date", "iso": wire.format_iso(moment)}


def _span(since: datetime, until: datetime) -> dict[str, Any]:
    return {"createdAt": {"$gte": _date(since), "$lt": _date(until)}}


async def gather(tools: AgentTools, window: str = "24h", now: datetime | None = None) -> Insights:
    until = now or wire.now()
    since = until - WINDOWS.get(window, WINDOWS["24h"])
    found = Insights(window if window in WINDOWS else "24h", since, until)
    step = (until - since) / BUCKETS
    span = _span(since, until)
    for n in range(BUCKETS):
        start = since + step * n
        where = _span(start, start + step)
        label = start.strftime("%H:%M" if step < timedelta(hours=12) else "%m-%d %H:%M")
        found.buckets.append(await _counted(tools, label, where))
    names = {agent.id: agent.name for agent in await tools.agents.all()}
    for agent_id in await _distinct(tools, "agentId", span):
        found.agents.append(await _counted(tools, names.get(agent_id, agent_id), span | {"agentId": agent_id}))
    for name in await _distinct(tools, "tool", span):
        tool = tools.registry.get(name)
        counted = await _counted(tools, name, span | {"tool": name}, ok=True)
        counted.kind = tool.kind if tool else ""
        found.tools.append(counted)
    found.agents.sort(key=lambda row: -row.calls)  # busiest first
    found.tools.sort(key=lambda row: -row.calls)
    denied = span | DENIED
    for rule in await _distinct(tools, "rule", denied):
        refused = await tools.records.count(TOOL_CALL, denied | {"rule": rule})
        found.rules.append(Count(rule, refused, refused))
    found.pending = await tools.records.count(APPROVAL, {"status": "pending"})
    await _decisions(tools, found)
    return found


async def _counted(tools: AgentTools, name: str, where: dict[str, Any], ok: bool = False) -> Count:
    count = Count(name, await tools.records.count(TOOL_CALL, where))
    if count.calls:
        count.denied = await tools.records.count(TOOL_CALL, where | DENIED)
        if ok:
            count.ok = await tools.records.count(TOOL_CALL, where | {"decision": "allow", "outcome": "ok"})
    return count


async def _distinct(tools: AgentTools, key: str, where: dict[str, Any]) -> list[str]:
    """The distinct values of ``key`` among the matching records: one indexed look-up per value."""
    values: list[str] = []
    while len(values) < DISTINCT:
        above = {key: {"$gt": values[-1]}} if values else {key: {"$exists": True}}
        options = FindOptions(where=where | above, order=key, limit=1, keys=key)
        rows = (await tools.records.objects.find(SYSTEM, TOOL_CALL, options)).results
        if not rows or not isinstance(rows[0].get(key), str):
            return values
        values.append(rows[0][key])
    return values


async def _decisions(tools: AgentTools, found: Insights) -> None:
    """How many approvals were decided in the window, and the median wait from request to decision."""
    where = {"decidedAt": {"$gte": _date(found.since), "$lt": _date(found.until)}}
    found.decided = await tools.records.count(APPROVAL, where)
    options = FindOptions(where=where, order="-decidedAt", limit=DECIDED, keys="createdAt,decidedAt")
    rows = (await tools.records.objects.find(SYSTEM, APPROVAL, options)).results
    waits = [(wire.parse_iso(row["decidedAt"]["iso"]) - wire.parse_iso(row["createdAt"])).total_seconds()
             for row in rows if isinstance(row.get("decidedAt"), dict) and isinstance(row.get("createdAt"), str)]
    found.median_decide_seconds = statistics.median(waits) if waits else None
