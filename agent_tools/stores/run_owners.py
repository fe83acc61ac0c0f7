"""Runs are owned: a run id belongs to the agent (and the user it acts for) whose call first used it.

``X-Ballast-Run-Id`` is chosen by the caller, so without this another agent could spend a victim's
run budgets and write its calls into the victim's audit trail and replay. The owner is the one of the
run's first audit record; a run with none yet goes to the first claim in the run budget store (atomic, and
shared by every instance through Redis), so two agents racing to a new run id never both own it. Once
known, this process remembers the owner (it never changes).
"""

from __future__ import annotations

from collections import OrderedDict

import orjson

from agent_tools.model.blocked import Blocked
from agent_tools.stores.classes import TOOL_CALL, Records
from agent_tools.stores.run_budget import RunBudget

Owner = tuple[str, str | None]  # (agent id, user id)
KNOWN_RUNS = 10_000


class RunOwners:
    def __init__(self, records: Records, claims: RunBudget) -> None:
        self.records = records
        self.claims = claims
        self._owners: OrderedDict[str, Owner] = OrderedDict()

    async def claim(self, run_id: str, agent_id: str, user_id: str | None) -> None:
        """Go on if this run is new or already this (agent, user)'s; Blocked ``run.owner`` otherwise."""
        owner = self._owners.get(run_id)
        if owner is None:
            first = await self.records.first(TOOL_CALL, {"runId": run_id}, order="createdAt,seq")
            owner = _owner_of(first["body"]) if first else await self._first_claim(run_id, (agent_id, user_id))
            self._remember(run_id, owner)
        if owner != (agent_id, user_id):
            raise Blocked("run.owner", f"Run {run_id[:64]!r} belongs to another agent or user; "
                          "start a run of your own.")

    async def _first_claim(self, run_id: str, owner: Owner) -> Owner:
        claimed = await self.claims.claim(run_id, orjson.dumps(owner).decode())
        agent_id, user_id = orjson.loads(claimed)
        return str(agent_id), user_id

    def _remember(self, run_id: str, owner: Owner) -> None:
        self._owners[run_id] = owner
        while len(self._owners) > KNOWN_RUNS:
            self._owners.popitem(last=False)


def _owner_of(body: str) -> Owner:
    parsed = orjson.loads(body)
    return str(parsed.get("agentId")), parsed.get("userId")
