"""Policy: the one function that decides a tool call, and the versioned configuration it reads.

``decide`` answers allow, deny(rule) or needs_approval(rule); every decision
carries the policy version and the rule that decided, and the audit keeps both.
Blast radius is judged while the write runs (``calls.OverCap``), against the
same configuration (``over_cap``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from limits import RateLimitItem
from limits import parse as parse_rate
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_tools.model.blocked import Blocked
from agent_tools.model.registry import Tool
from agent_tools.stores.agents import Agent
from agent_tools.stores.classes import POLICY, Records
from backend.errors import InvalidValue
from backend.services.shared.counters import CountersUnreachable
from backend.services.shared.rate_limits import RateCounter
from backend.services.shared.units import Unit

DecisionKind = Literal["allow", "deny", "needs_approval"]
CACHE_SECONDS = 1.0  # other instances see a policy change within a second; this one at once


class PolicyConfig(BaseModel):
    """The knobs an admin sets; every change is stored as a new version."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    read_only: bool = Field(False, alias="readOnly")  # the global switch: no agent may write
    agent_rate: str = Field("600/minute", alias="agentRate")  # all tools together, per agent
    over_cap: Literal["approval", "deny"] = Field("approval", alias="overCap")
    run_calls: int = Field(1000, ge=1, alias="runCalls")
    run_writes: int = Field(100, ge=0, alias="runWrites")
    run_objects_read: int = Field(10_000, ge=0, alias="runObjectsRead")
    approval_ttl: int = Field(24 * 3600, ge=1, alias="approvalTtl")  # seconds
    tool_rates: dict[str, str] = Field(default_factory=dict, alias="toolRates")  # overrides a tool's own rate


@dataclass(frozen=True)
class Policy:
    version: int
    config: PolicyConfig


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    rule: str
    reason: str
    version: int

    @property
    def allowed(self) -> bool:
        return self.kind == "allow"


EXACT_SCOPES = frozenset({"auth-failed"})
"""Limits counted exactly (a moving window): a lockout must never let an attempt past its count at a window's
edge, as the cheaper sliding-window estimate can; their counts are small, so keeping every hit costs little."""


class RateLimits:
    """Limits per agent, per (agent, tool) and per address; Redis-backed when Redis is configured.

    The first key names the scope: the scopes in ``EXACT_SCOPES`` keep every hit of their window, the others a
    sliding-window estimate (O(1) per hit, for the busy per-agent and per-address rates)."""

    def __init__(self, redis_url: str | None) -> None:
        self.counter = RateCounter(redis_url, "ballast-agent")
        self.exact = RateCounter(redis_url, "ballast-agent-exact", exact=True)

    async def close(self) -> None:
        await self.counter.close()
        await self.exact.close()

    def _counter(self, keys: tuple[str, ...]) -> RateCounter:
        return self.exact if keys and keys[0] in EXACT_SCOPES else self.counter

    async def hit(self, rate: str, *keys: str) -> bool:
        try:
            return await self._counter(keys).hit(_item(rate), *keys)
        except UNREACHABLE:
            raise _unavailable() from None

    async def within(self, rate: str, *keys: str) -> bool:
        """Whether another hit would still be allowed (counts nothing)."""
        try:
            return await self._counter(keys).test(_item(rate), *keys)
        except UNREACHABLE:
            raise _unavailable() from None


UNREACHABLE = CountersUnreachable  # the shared counter store is down: fail closed, never uncounted


def _unavailable() -> Blocked:
    return Blocked("rate.unavailable", "Rate limits cannot be checked right now (their store is unreachable); "
                   "the call was refused and nothing changed. Retry later.", status=503, code=1)


@lru_cache(maxsize=256)
def _item(rate: str) -> RateLimitItem:
    return parse_rate(rate)


class PolicyStore:
    """The current policy version, cached briefly; ``update`` stores a new version."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._cached: Policy | None = None
        self._loaded_at = 0.0

    async def current(self, unit: Unit | None = None) -> Policy:
        if self._cached is None or time.monotonic() - self._loaded_at > CACHE_SECONDS:
            latest = await self.records.first(POLICY, {}, order="-version", unit=unit)
            self._cached = Policy(0, PolicyConfig()) if latest is None else _policy_from(latest)
            self._loaded_at = time.monotonic()
        return self._cached

    async def update(self, changes: dict[str, Any], author: str) -> Policy:
        current = await self.current()
        try:
            config = PolicyConfig.model_validate(current.config.model_dump(by_alias=True) | changes)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise InvalidValue(f"Invalid policy {where}: {first.get('msg')}.") from None
        version = current.version + 1
        await self.records.create(POLICY, {"version": version, "config": config.model_dump(by_alias=True),
                                           "author": author})
        self._cached, self._loaded_at = Policy(version, config), time.monotonic()
        return self._cached


def _policy_from(obj: dict[str, Any]) -> Policy:
    return Policy(int(obj["version"]), PolicyConfig.model_validate(obj.get("config") or {}))


def granted(agent: Agent, tool: Tool) -> bool:
    """A grant names the tool, its kind ('read:*', 'write:*') or everything ('*')."""
    return bool({tool.name, f"{tool.kind}:*", "*"} & agent.grants)


async def decide(agent: Agent, tool: Tool, policy: Policy, limits: RateLimits, intent: Any = None) -> Decision:
    """The one decision for a call, before it runs: first failing rule wins (run budgets: ``run_budget``)."""
    config = policy.config

    def deny(rule: str, reason: str) -> Decision:
        return Decision("deny", rule, reason, policy.version)

    if agent.status != "active":
        return deny("agent.suspended", f"Agent {agent.name} is {agent.status}.")
    if tool.kind == "write" and config.read_only:
        return deny("global.read_only", "Agents are read-only right now (global switch).")
    if not granted(agent, tool):
        return deny("grant.missing", f"Agent {agent.name} has no grant for tool {tool.name}.")
    if not tool.roles <= agent.roles:
        missing = ", ".join(sorted(tool.roles - agent.roles))
        return deny("roles.missing", f"Tool {tool.name} needs role(s) {missing}.")
    if intent is not None and tool.name not in getattr(intent, "tools", ()):
        return deny("intent.tool", f"Tool {tool.name} is outside this run's intent.")
    if not await limits.hit(config.agent_rate, agent.id):
        return deny("rate.agent", f"Agent {agent.name} passed its rate limit ({config.agent_rate}).")
    tool_rate = config.tool_rates.get(tool.name, tool.rate)
    if not await limits.hit(tool_rate, agent.id, tool.name):
        return deny("rate.tool", f"Tool {tool.name} passed its rate limit for this agent ({tool_rate}).")
    if tool.kind == "write" and tool.risk == "high":
        return Decision("needs_approval", "risk.high", f"Tool {tool.name} is high risk.", policy.version)
    return Decision("allow", "allow", "Allowed.", policy.version)


def over_cap(tool: Tool, count: int, policy: Policy) -> Decision:
    """The decision for a write that would change more objects than its cap."""
    reason = f"Tool {tool.name} would change {count} objects; its cap is {tool.cap}."
    kind: DecisionKind = "needs_approval" if policy.config.over_cap == "approval" else "deny"
    return Decision(kind, "blast_radius", reason, policy.version)
