"""How agents behave over a time window: calls over time, per agent and per tool, denials by rule, approvals.

The window's tool calls are counted in ONE grouped SQL query (``Records.count_by``: per agent, tool,
decision, outcome, rule and time bucket, over the audit's indexed copies of those fields and createdAt);
every number of the page is a sum of those groups, so no audit record is loaded into Python and a million
records cost one indexed range scan, not a query per bucket, agent and tool.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
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
    edges = tuple(since + step * n for n in range(1, BUCKETS))  # bucket n: [since + n step, since + (n+1) step)
    groups = await tools.records.count_by(TOOL_CALL, _span(since, until), GROUPED, "createdAt", edges)
    calls = [Call(agent, tool, decision, outcome, rule, bucket, count)
             for (agent, tool, decision, outcome, rule, bucket), count in groups]
    for n in range(BUCKETS):
        label = (since + step * n).strftime("%H:%M" if step < timedelta(hours=12) else "%m-%d %H:%M")
        found.buckets.append(_tally(label, (call for call in calls if call.bucket == n)))
    names = {agent.id: agent.name for agent in await tools.agents.all()}
    found.agents = [_tally(names.get(agent_id, agent_id), rows) for agent_id, rows in _busiest(calls, "agent_id")]
    for name, rows in _busiest(calls, "tool"):
        tool = tools.registry.get(name)
        found.tools.append(_tally(name, rows, tool.kind if tool else ""))
    found.rules = _rules(calls)
    found.pending = await tools.records.count(APPROVAL, {"status": "pending"})
    await _decisions(tools, found)
    return found


@dataclass(frozen=True)
class Call:
    """One group of the window's records: the same agent, tool, decision, outcome, rule and time bucket."""

    agent_id: str | None
    tool: str | None
    decision: str | None
    outcome: str | None
    rule: str | None
    bucket: int
    count: int

    @property
    def denied(self) -> bool:
        return self.decision in DENIED["decision"]["$in"]


GROUPED = ("agentId", "tool", "decision", "outcome", "rule")  # Call's fields, in order, then the bucket


def _tally(name: str, calls: Iterable[Call], kind: str = "") -> Count:
    count = Count(name, kind=kind)
    for call in calls:
        count.calls += call.count
        count.denied += call.count if call.denied else 0
        count.ok += call.count if call.decision == "allow" and call.outcome == "ok" else 0
    return count


def _rules(calls: list[Call]) -> list[Count]:
    """Denials by the rule that refused them, by rule name."""
    refused: Counter[str] = Counter()
    for call in calls:
        if call.denied and isinstance(call.rule, str):
            refused[call.rule] += call.count
    return [Count(rule, refused[rule], refused[rule]) for rule in sorted(refused)[:DISTINCT]]


def _busiest(calls: list[Call], key: str) -> list[tuple[str, list[Call]]]:
    """The DISTINCT busiest values of ``key`` (by calls, then name) with their groups."""
    by_value: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        value = getattr(call, key)
        if isinstance(value, str):
            by_value[value].append(call)
    ranked = sorted(by_value.items(), key=lambda item: (-sum(call.count for call in item[1]), item[0]))
    return ranked[:DISTINCT]


async def _decisions(tools: AgentTools, found: Insights) -> None:
    """How many approvals were decided in the window, and the median wait from request to decision."""
    where = {"decidedAt": {"$gte": _date(found.since), "$lt": _date(found.until)}}
    found.decided = await tools.records.count(APPROVAL, where)
    options = FindOptions(where=where, order="-decidedAt", limit=DECIDED, keys="createdAt,decidedAt")
    rows = (await tools.records.objects.find(SYSTEM, APPROVAL, options)).results
    waits = [(wire.parse_iso(row["decidedAt"]["iso"]) - wire.parse_iso(row["createdAt"])).total_seconds()
             for row in rows if isinstance(row.get("decidedAt"), dict) and isinstance(row.get("createdAt"), str)]
    found.median_decide_seconds = statistics.median(waits) if waits else None
