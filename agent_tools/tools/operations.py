"""Tools over server operations: agent-callable cloud functions, jobs, and an agent's own approvals.

Cloud functions run through ``services.cloud`` (only those registered with
``agent_callable=True``). Jobs go through a ``services.jobs`` service when one
is wired (the seam below, ``JobsPort``); without it the job tools answer
that jobs are unavailable, and ``list_jobs`` lists the registered jobs.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from agent_tools.model.registry import JsonValue, ToolRegistry
from agent_tools.model.tool_context import Mode, NeedsApproval, ToolContext
from agent_tools.stores.classes import APPROVAL
from backend.context import RequestContext
from backend.errors import ObjectNotFound, OperationForbidden, ScriptFailed


class JobsPort(Protocol):
    """What the job tools need from a job service (the jobs package provides it)."""

    def job_names(self) -> list[str]: ...

    async def start(self, ctx: RequestContext, name: str, params: dict[str, Any]) -> str: ...

    async def status(self, ctx: RequestContext, run_id: str) -> dict[str, Any]: ...


class FunctionInput(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="An agent-callable cloud function.")
    params: dict[str, Any] = Field(default_factory=dict)


class FunctionOut(BaseModel):
    result: JsonValue = None
    held: bool = False  # true in a preview: the function did not run


class NoInput(BaseModel):
    pass


class JobList(BaseModel):
    jobs: list[str]


class JobRef(BaseModel):
    runId: str = Field(min_length=1, max_length=64)


class JobStatus(BaseModel):
    runId: str
    status: dict[str, Any]


class TriggerInput(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    params: dict[str, Any] = Field(default_factory=dict)


class Triggered(BaseModel):
    runId: str | None = None
    held: bool = False


class ApprovalRef(BaseModel):
    approvalId: str = Field(min_length=1, max_length=64)


class ApprovalOut(BaseModel):
    id: str
    status: str
    tool: str
    expiresAt: str | None = None
    reason: str | None = None
    result: dict[str, Any] | None = None


def _jobs(ctx: ToolContext) -> JobsPort | None:
    jobs: JobsPort | None = ctx.jobs
    return jobs


async def run_cloud_function(ctx: ToolContext, given: FunctionInput) -> FunctionOut:
    spec = ctx.services.cloud.registry.functions.get(given.name)
    if spec is None or not spec.agent_callable:
        raise OperationForbidden(f"Cloud function {given.name} is not agent-callable.")
    if spec.risk == "high" and ctx.mode == Mode.LIVE:
        raise NeedsApproval("risk.high", f"Cloud function {given.name} is high risk.")

    async def run() -> None:
        await ctx.services.cloud.run_function(ctx.request, given.name, given.params)

    if ctx.mode != Mode.LIVE:  # preview: held back; approved: runs once the approval commits
        ctx.effect("cloudFunction", {"name": given.name}, run)
        return FunctionOut(held=True)
    # the function writes in its own transactions (the tool is not transactional): the audit record follows
    ctx.effects.append({"kind": "cloudFunction", "name": given.name})
    return FunctionOut(result=await ctx.services.cloud.run_function(ctx.request, given.name, given.params))


async def list_jobs(ctx: ToolContext, _: NoInput) -> JobList:
    jobs = _jobs(ctx)
    names = jobs.job_names() if jobs is not None else sorted(ctx.services.cloud.registry.jobs)
    return JobList(jobs=names)


async def job_status(ctx: ToolContext, given: JobRef) -> JobStatus:
    jobs = _jobs(ctx)
    if jobs is None:
        raise ScriptFailed("Jobs are not available on this server.")
    return JobStatus(runId=given.runId, status=await jobs.status(ctx.request, given.runId))


async def trigger_job(ctx: ToolContext, given: TriggerInput) -> Triggered:
    jobs = _jobs(ctx)
    if jobs is None:
        raise ScriptFailed("Jobs are not available on this server.")
    if given.name not in jobs.job_names():
        raise ObjectNotFound(f"No job named {given.name}.")
    started: dict[str, str] = {}

    async def start() -> None:
        started["runId"] = await jobs.start(ctx.request, given.name, given.params)

    # the job starts once the approval's unit commits; a preview only notes it
    held = not ctx.effect("job", {"name": given.name}, start)
    return Triggered(runId=started.get("runId"), held=held)


async def approval_status(ctx: ToolContext, given: ApprovalRef) -> ApprovalOut:
    try:
        approval = await ctx.services.objects.get(RequestContext.internal(), APPROVAL, given.approvalId, unit=ctx.unit)
    except ObjectNotFound:
        approval = None
    if approval is None or approval.get("agentId") != ctx.request.principal.agent_id:
        raise ObjectNotFound(f"No approval {given.approvalId} for this agent.")
    expires = approval.get("expiresAt")
    return ApprovalOut(id=approval["objectId"], status=str(approval.get("status")), tool=str(approval.get("tool")),
                       expiresAt=expires.get("iso") if isinstance(expires, dict) else None,
                       reason=approval.get("reason"), result=approval.get("result"))


def register(registry: ToolRegistry) -> None:
    registry.tool("run_cloud_function", description="Run a cloud function the app marked agent-callable.",
                  input=FunctionInput, output=FunctionOut, kind="write", rate="60/minute",
                  transactional=False)(run_cloud_function)
    registry.tool("list_jobs", description="List the background jobs this server knows.",
                  input=NoInput, output=JobList, kind="read")(list_jobs)
    registry.tool("job_status", description="The status of one job run.",
                  input=JobRef, output=JobStatus, kind="read")(job_status)
    registry.tool("trigger_job", description="Start a background job. High risk: waits for a human's approval.",
                  input=TriggerInput, output=Triggered, kind="write", risk="high", rate="10/minute")(trigger_job)
    registry.tool("approval_status", description="Poll an approval this agent asked for: pending, executed...",
                  input=ApprovalRef, output=ApprovalOut, kind="read", rate="600/minute")(approval_status)
