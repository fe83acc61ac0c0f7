"""Run budgets: the per-run counters that enforce limits, exact across instances.

A run (one agent's run id) counts its calls, its writes, the distinct objects it was shown and, within an
intent, the distinct sensitive values; an intent whose caps were passed stops the run for good. Every
check-and-count is one step: in Redis one Lua script (atomic on the server, one round trip), in one process
a method with no ``await`` inside, so concurrent calls, on one instance or several, never pass a budget.

Without Redis the counts live in this process (embedded mode is one process). With Redis configured they
live there, shared by every instance; Redis unreachable refuses the call (``budget.unavailable``), it never
lets one through uncounted. A place held by a write that then dies with its process stays taken until the
run's counters expire: a lost place, never an extra write.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_tools.model.blocked import Blocked
from backend.services.shared.counters import CountersUnreachable, RedisScripts

log = logging.getLogger("ballast.agent_tools")
RUN_TTL = 48 * 3600  # seconds a run's counters outlive its last call (run tokens live at most 24 h)
KNOWN_RUNS = 10_000  # runs one process keeps without Redis (the least recently used is forgotten)
Ref = tuple[str, ...]  # (className, objectId) shown; (className, objectId, field) sensitive


@dataclass(frozen=True)
class Caps:
    """The budgets one call is admitted against (from the policy)."""

    calls: int
    writes: int | None = None  # a write's run write budget; None: a read, which counts no write
    objects: int | None = None  # a read's budget of distinct objects shown; None: not checked (writes)


EXHAUSTED = {"calls": "This run used its {calls} calls.", "writes": "This run used its {writes} writes.",
             "objects": "This run was shown its {objects} objects."}


def refusal(exhausted: str, caps: Caps) -> Blocked:
    """The Blocked answer for a budget ``admit`` found spent (rule ``budget.<name>``)."""
    return Blocked(f"budget.{exhausted}", EXHAUSTED[exhausted].format(**caps.__dict__))


class RunBudget(Protocol):
    async def admit(self, run: str, caps: Caps) -> str | None:
        """Count the call (and its write) unless a budget is spent; the spent budget's name otherwise."""

    async def release(self, run: str) -> None:
        """Give back the write place ``admit`` took for a write that did not commit."""

    async def see(self, run: str, objects: Iterable[Ref], sensitive: Iterable[Ref] = ()) -> tuple[int, int]:
        """Add what a call was shown; the run's distinct (objects, sensitive values) now."""

    async def stop(self, run: str, reason: str) -> None:
        """Stop the run for good (its intent's exposure caps were passed)."""

    async def stopped(self, run: str) -> str | None:
        """Why the run was stopped, or None."""

    async def claim(self, run: str, owner: str) -> str:
        """The run's owner: ``owner`` if this is the run's first claim, else whoever claimed it first."""

    async def close(self) -> None: ...


def run_budget(redis_url: str | None, application_id: str) -> RunBudget:
    return RedisRunBudget(redis_url, f"ballast:{application_id}:run") if redis_url else LocalRunBudget()


@dataclass
class _Run:
    calls: int = 0
    writes: int = 0
    seen: set[Ref] = field(default_factory=set)
    sensitive: set[Ref] = field(default_factory=set)
    stopped: str | None = None
    owner: str | None = None


class LocalRunBudget:
    """This process's runs, LRU-bounded; exact because no method awaits between its check and its count."""

    def __init__(self, size: int = KNOWN_RUNS) -> None:
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._size = size

    def _run(self, run: str) -> _Run:
        state = self._runs.pop(run, None) or _Run()
        self._runs[run] = state
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)
        return state

    async def admit(self, run: str, caps: Caps) -> str | None:
        state = self._run(run)
        if state.calls >= caps.calls:
            return "calls"
        if caps.writes is not None and state.writes >= caps.writes:
            return "writes"
        if caps.objects is not None and len(state.seen) >= caps.objects:
            return "objects"
        state.calls += 1
        state.writes += caps.writes is not None
        return None

    async def release(self, run: str) -> None:
        state = self._run(run)
        state.writes = max(0, state.writes - 1)

    async def see(self, run: str, objects: Iterable[Ref], sensitive: Iterable[Ref] = ()) -> tuple[int, int]:
        state = self._run(run)
        state.seen.update(objects)
        state.sensitive.update(sensitive)
        return len(state.seen), len(state.sensitive)

    async def stop(self, run: str, reason: str) -> None:
        self._run(run).stopped = reason

    async def stopped(self, run: str) -> str | None:
        return self._run(run).stopped

    async def claim(self, run: str, owner: str) -> str:
        state = self._run(run)
        state.owner = state.owner or owner
        return state.owner

    async def close(self) -> None:
        return None


# KEYS: calls, writes, seen. ARGV: calls cap, writes cap (-1: a read), objects cap (-1: unchecked), ttl
ADMIT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 'calls' end
local writes = tonumber(ARGV[2])
if writes >= 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= writes then return 'writes' end
local objects = tonumber(ARGV[3])
if objects >= 0 and redis.call('SCARD', KEYS[3]) >= objects then return 'objects' end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if writes >= 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return ''
"""
# KEYS: writes
RELEASE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""
# KEYS: seen, sensitive. ARGV: ttl, how many of the rest are objects, objects..., sensitive values...
SEE = """
local split = tonumber(ARGV[2]) + 2
for i = 3, #ARGV do
  if i <= split then redis.call('SADD', KEYS[1], ARGV[i]) else redis.call('SADD', KEYS[2], ARGV[i]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {redis.call('SCARD', KEYS[1]), redis.call('SCARD', KEYS[2])}
"""

# KEYS: owner. ARGV: the claimant, ttl
CLAIM = """
local first = redis.call('GET', KEYS[1])
if first then return first end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""


class RedisRunBudget:
    """Every instance's runs in one Redis: each check-and-count is one Lua script (one round trip)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = RedisScripts(url, {"admit": ADMIT, "release": RELEASE, "see": SEE, "claim": CLAIM})
        self._prefix = prefix

    def _keys(self, run: str, *names: str) -> list[str]:
        # the run id is the caller's: hashed, it makes a bounded key; the braces keep a run's keys in one
        # Redis Cluster slot, as a script's keys must be
        digest = hashlib.sha256(run.encode()).hexdigest()[:32]
        return [f"{self._prefix}:{{{digest}}}:{name}" for name in names]

    async def admit(self, run: str, caps: Caps) -> str | None:
        args = [caps.calls, -1 if caps.writes is None else caps.writes,
                -1 if caps.objects is None else caps.objects, RUN_TTL]
        spent = await self._run(self._redis.run("admit", self._keys(run, "calls", "writes", "seen"), args))
        text = spent.decode() if isinstance(spent, bytes) else str(spent or "")
        return text or None

    async def release(self, run: str) -> None:
        try:
            await self._redis.run("release", self._keys(run, "writes"), [])
        except CountersUnreachable:  # the place stays taken until the run expires: one write fewer, never more
            log.warning("run budget: a write place could not be given back (Redis unreachable)")

    async def see(self, run: str, objects: Iterable[Ref], sensitive: Iterable[Ref] = ()) -> tuple[int, int]:
        shown, values = [_member(ref) for ref in objects], [_member(ref) for ref in sensitive]
        counts = await self._run(self._redis.run("see", self._keys(run, "seen", "sensitive"),
                                                 [RUN_TTL, len(shown), *shown, *values]))
        return int(counts[0]), int(counts[1])

    async def stop(self, run: str, reason: str) -> None:
        await self._run(self._redis.set(self._keys(run, "stopped")[0], reason, RUN_TTL))

    async def stopped(self, run: str) -> str | None:
        reason: str | None = await self._run(self._redis.get(self._keys(run, "stopped")[0]))
        return reason

    async def claim(self, run: str, owner: str) -> str:
        first = await self._run(self._redis.run("claim", self._keys(run, "owner"), [owner, RUN_TTL]))
        return first.decode() if isinstance(first, bytes) else str(first)

    async def close(self) -> None:
        await self._redis.close()

    @staticmethod
    async def _run(pending: Any) -> Any:
        try:
            return await pending
        except CountersUnreachable:  # fail closed: no count, no call
            log.warning("run budget: Redis unreachable; the call is refused")
            raise Blocked("budget.unavailable", "Run budgets cannot be checked right now (their store is "
                          "unreachable); the call was refused and nothing changed. Retry later.",
                          status=503, code=1) from None


def _member(ref: Ref) -> str:
    return "\x1f".join(ref)
