"""One tool call as every step sees it: the request a face built, the call in flight, the result it answers.

The steps (admit, execute, record, answer) share nothing but these types, so none imports another.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from agent_tools.model.registry import Tool
from agent_tools.pipeline.shaping import Shaper
from agent_tools.stores.agents import Agent
from agent_tools.stores.parts import Parts
from agent_tools.stores.policy import Policy
from backend.context import Principal


@dataclass(frozen=True)
class CallRequest:
    token: str | None
    tool: str
    kind: str  # the router it came in on: read | write
    input: Any
    run_id: str | None = None
    idempotency_key: str | None = None
    user_token: str | None = field(default=None, repr=False)  # the acted-for user's session (only if allowed)
    delegation: str | None = field(default=None, repr=False)  # X-Ballast-Delegation: the user's grant to this agent
    agent_id: str | None = None  # already authenticated by a verified OAuth access token (no gateway token)
    scopes: frozenset[str] | None = None  # that access token's scopes; None: a gateway token, every scope
    intent: Any = None  # a run token's intent (agent_tools.stores.intents.RunIntent): narrows every call of the run
    address: str | None = None  # the caller's IP: rate limited before the token is checked
    source: tuple[int | None, str | None] = (None, None)  # an access/run token's (agent generation, gateway token)


@dataclass
class CallResult:
    status: int
    body: dict[str, Any]
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """What a tool's error tells the caller and the audit (execute.failure reads it from the error)."""

    status: int
    code: int
    message: str


def new_run_id() -> str:
    return "run_" + secrets.token_hex(8)


@dataclass
class Call:
    """One call in flight: what is known so far, and what the audit will say."""

    request: CallRequest
    run_id: str
    started: float
    agent: Agent | None = None
    tool: Tool | None = None
    policy: Policy | None = None
    input: BaseModel | None = None
    user: Principal | None = None
    shaper: Shaper | None = None
    fresh: bool = False  # read the agent from the database even for a read (a later attempt)
    attempt: int = 1
    unconfirmed: tuple[str, bytes] | None = None  # the agent copy the call was admitted on, to confirm
    confirmation: asyncio.Future[bool] | None = None  # a write's group confirmation of that copy
    reserved: str | None = None  # the run whose write budget this call holds a place in (until it commits)
    committed: bool = False

    @classmethod
    def start(cls, request: CallRequest) -> Call:
        return cls(request, request.run_id or new_run_id(), time.perf_counter())

    def again(self) -> Call:
        """The next attempt: same run and clock, the agent read fresh from the database."""
        return Call(self.request, self.run_id, self.started, fresh=True, attempt=self.attempt + 1)

    def normalised(self) -> Any:
        """The input as validated (what an idempotency key and an approval bind), else as it came."""
        return self.input.model_dump(mode="json") if self.input else self.request.input

    def entry(self, **more: Any) -> dict[str, Any]:
        base = {"agentId": self.agent.id if self.agent else None, "runId": self.run_id,
                "userId": self.user.user_id if self.user else None, "tool": self.request.tool,
                "kind": self.request.kind,
                "toolVersion": self.tool.version if self.tool else None,
                "policyVersion": self.policy.version if self.policy else None,
                "input": self.normalised(),
                "retryKey": self.request.idempotency_key,  # only a committed write claims the key itself
                "durationMs": round((time.perf_counter() - self.started) * 1000, 3)}
        if self.request.intent is not None:
            base["intent"] = {"name": self.request.intent.name, "params": self.request.intent.params}
        return base | more


class ActingFor(Protocol):
    """Delegations as the gateway asks them (agent_tools.pipeline.delegations.DelegationStore)."""

    async def acting_user(self, request: CallRequest, agent: Agent) -> Principal | None: ...


class GatewayParts(Parts, Protocol):
    """What the gateway uses of ``agent_tools.wiring.AgentTools``."""

    delegations: ActingFor
