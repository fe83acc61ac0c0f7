"""Parts: the stores a pipeline step reaches through ``tools`` (a protocol ``agent_tools.wiring.AgentTools`` meets).

The steps below the wiring name what they use here instead of importing the class that builds them,
so no import climbs back up a layer. A step that needs more adds it in a protocol of its own
(``TokenParts``, ``GatewayParts``), next to the part it adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agent_tools.model.registry import ToolRegistry
    from agent_tools.stores.agents import Agent, AgentStore, Confirmations
    from agent_tools.stores.approvals import ApprovalStore
    from agent_tools.stores.audit import AuditLog
    from agent_tools.stores.classes import Records
    from agent_tools.stores.intents import IntentStore
    from agent_tools.stores.policy import PolicyStore, RateLimits
    from agent_tools.stores.run_budget import RunBudget
    from agent_tools.stores.run_owners import RunOwners
    from backend.context import Principal, RequestContext
    from backend.services.wiring import Services


class Parts(Protocol):
    """The app's services and agent_tools' stores, built once per app."""

    services: Services
    jobs: Any  # the JobService when the app runs jobs
    records: Records
    registry: ToolRegistry
    agents: AgentStore
    confirmations: Confirmations
    policies: PolicyStore
    audit: AuditLog
    approvals: ApprovalStore
    limits: RateLimits
    budgets: RunBudget  # run budgets and intent exposure, counted across instances
    intents: IntentStore
    run_owners: RunOwners

    async def ready(self) -> None: ...

    def handles_for(self, kind: str) -> tuple[Services, Any]: ...

    def request_context(self, agent: Agent, user: Principal | None = None) -> RequestContext: ...

    async def user_principal(self, user_id: str) -> Principal: ...
