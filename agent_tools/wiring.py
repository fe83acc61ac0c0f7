"""AgentTools: the gateway's parts built once over the app's Services (faces and the CLI share it)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from agent_tools.model.registry import ToolRegistry
from agent_tools.stores.admins import AdminStore
from agent_tools.stores.agents import Agent, AgentStore, Confirmations
from agent_tools.stores.approvals import ApprovalStore
from agent_tools.stores.audit import AuditLog
from agent_tools.stores.audit_copies import fill_copies
from agent_tools.stores.classes import Records
from agent_tools.stores.policy import PolicyStore, RateLimits
from agent_tools.stores.run_budget import run_budget
from backend.context import Principal, PrincipalKind, RequestContext
from backend.services.wiring import Services


class AgentTools:
    """Registry, agents, policy, limits, audit, approvals and the gateway over one set of services."""

    def __init__(self, services: Services, registry: ToolRegistry | None = None, jobs: Any = None) -> None:
        from agent_tools.pipeline.approver import Approver
        from agent_tools.pipeline.delegations import DelegationStore
        from agent_tools.pipeline.gateway import Gateway
        from agent_tools.stores.intents import IntentStore
        from agent_tools.stores.oauth_grants import GrantStore
        from agent_tools.stores.oauth_tokens import TokenAuthority
        from agent_tools.stores.read_only import ReadOnlyJobs, ReadOnlyServices
        from agent_tools.stores.run_owners import RunOwners
        from agent_tools.tools import builtin_registry

        self.services = services
        self.jobs = jobs  # the JobService, when the app runs jobs (tools/operations.py: JobsPort)
        self.records = Records(services.db, services.objects, services.schemas)
        self.registry = registry or builtin_registry()
        self.agents = AgentStore(self.records, self.registry)
        self.admins = AdminStore(self.records)  # console admins: the only admin power besides the master key
        self.policies = PolicyStore(self.records)
        self.audit = AuditLog(services.db, self.records)
        self.audit.confirmer = self.agents.confirm  # reads are admitted on a known agent row, confirmed here
        self.confirmations = Confirmations(self.agents, services.db)  # writes' agent rows, confirmed in groups
        self.approvals = ApprovalStore(self.records)
        self.limits = RateLimits(getattr(services.settings, "redis_url", None))
        # run budgets and intent exposure: in Redis when configured, so every instance counts together
        self.budgets = run_budget(getattr(services.settings, "redis_url", None), services.settings.application_id)
        self.gateway = Gateway(self)
        # run intents, field policies and provenance; per-run exposure; the OAuth token authority
        self.intents = IntentStore(self.records)
        settings = services.settings
        self.oauth = TokenAuthority(self, settings.public_url, getattr(settings, "master_key", None))
        self.approver = Approver(self)
        self.grants = GrantStore(self)  # OAuth clients, codes and refresh tokens (the MCP SDK's provider)
        self.delegations = DelegationStore(self, self.records)  # an agent acting for a user, gateway-only
        self.run_owners = RunOwners(self.records, self.budgets)  # a run id is its first caller's (agent, user)
        # a read tool's handles cannot write (agent_tools/stores/read_only.py); typed as Services, it refuses the rest
        self.read_services = cast(Services, ReadOnlyServices(services))
        self.read_jobs = ReadOnlyJobs(jobs) if jobs is not None else None
        self._ready = False
        self._lock = asyncio.Lock()

    def handles_for(self, kind: str) -> tuple[Services, Any]:
        """The services and jobs a tool of this kind is handed: a read tool's cannot write."""
        if kind == "read":
            return self.read_services, self.read_jobs
        return self.services, self.jobs

    async def close(self) -> None:
        await self.limits.close()
        await self.budgets.close()

    async def ready(self) -> None:
        """Create agent_tools' classes and the audit chain head, once per process."""
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                await self.records.ensure_classes()
                await self.audit.ensure_head()
                await fill_copies(self.audit)  # records of an earlier release get the copies added since
                await self.intents.ensure()
                self._ready = True

    def request_context(self, agent: Agent, user: Principal | None = None) -> RequestContext:
        """The context a tool runs as: the agent's principal, or the user's when the agent acts for one."""
        return RequestContext(user or agent.principal)

    async def user_principal(self, user_id: str) -> Principal:
        """A delegating user as a principal again (for an approval that runs later): id and current roles."""
        return Principal(PrincipalKind.USER, user_id, await self.services.identity.roles.roles_for(user_id))
