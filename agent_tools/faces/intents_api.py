"""Admin API under ``/agent/v1/admin`` for runs: intents, field policies, run tokens, run replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from agent_tools.faces import admin_actions as actions
from agent_tools.faces.admin_auth import Admin, AdminWrite
from agent_tools.faces.rest import PREFIX, Tools
from agent_tools.pipeline.runs import mint_run, replay
from backend.api.responses import ParseJSON

router = APIRouter(prefix=PREFIX + "/admin", tags=["agent intents"])


class NewRun(BaseModel):
    agent: str = Field(min_length=1, max_length=128, description="The agent's name or id.")
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("/intents")
async def define_intent(body: dict[str, Any], tools: Tools, caller: AdminWrite) -> ParseJSON:
    spec = await actions.define_intent(tools, caller, body)
    return ParseJSON({"intent": spec.model_dump(by_alias=True)}, status_code=201)


@router.get("/intents")
async def list_intents(tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"results": [spec.model_dump(by_alias=True) for spec in await tools.intents.all()]})


@router.get("/intents/{name}")
async def show_intent(name: str, tools: Tools, _: Admin) -> ParseJSON:
    await tools.ready()
    return ParseJSON({"intent": (await tools.intents.get(name)).model_dump(by_alias=True)})


@router.delete("/intents/{name}")
async def remove_intent(name: str, tools: Tools, caller: AdminWrite) -> ParseJSON:
    await actions.remove_intent(tools, caller, name)
    return ParseJSON({})


@router.post("/intents/{name}/runs")
async def mint_run_token(name: str, body: NewRun, tools: Tools, _: AdminWrite) -> ParseJSON:
    return ParseJSON(await mint_run(tools, name, body.agent, body.params), status_code=201)


@router.put("/fields/{class_name}")
async def set_field_policy(class_name: str, body: dict[str, Any], tools: Tools, caller: AdminWrite) -> ParseJSON:
    policy = await actions.set_fields(tools, caller, class_name, body)
    return ParseJSON({"className": class_name, **policy.model_dump()})


@router.get("/runs/{run_id}/replay")
async def replay_run(run_id: str, tools: Tools, _: Admin) -> ParseJSON:
    return ParseJSON(await replay(tools, run_id))
