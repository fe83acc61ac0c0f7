"""Runs: minting a run token for one intent, and replaying a run's calls against today's data.

Replay re-executes each call the audit recorded for the run, as the same
agent (and intent), without side effects: reads in read-only units, writes as
previews whose unit rolls back. It compares what the call saw then (the audit's
context references: class, objectId, updatedAt; and the result hash) with what
it sees now, and names the calls and objects that differ.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import TYPE_CHECKING, Any

from agent_tools.model.tool_context import Mode, Rollback, ToolContext
from agent_tools.pipeline.call import CallRequest
from agent_tools.pipeline.shaping import Shaper, result_hash
from agent_tools.stores.agents import TOKEN_PREFIX
from agent_tools.stores.intents import RunIntent
from agent_tools.stores.oauth_tokens import scope_for
from agent_tools.stores.run_budget import LocalRunBudget
from backend.errors import InvalidValue, ObjectNotFound, ParseError

if TYPE_CHECKING:
    from agent_tools.stores.oauth_tokens import TokenParts

Ref = tuple[str, str]


async def mint_run(tools: TokenParts, intent_name: str, agent: str, params: dict[str, Any]) -> dict[str, Any]:
    """A short-lived run token binding one agent, one intent and its parameters to a new run id."""
    await tools.ready()
    bound = await tools.intents.bind(intent_name, params)
    found = await tools.agents.find(agent)
    if found.status != "active":
        raise InvalidValue(f"Agent {found.name} is {found.status}.")
    scopes = {scope_for(tool.kind) for tool in tools.registry if tool.name in bound.tools}
    if not scopes:
        raise InvalidValue(f"Intent {intent_name} names no known tool.")
    run_id = "run_" + secrets.token_hex(8)
    token = tools.oauth.issue(found.id, scopes, bound.spec.ttl, run_id=run_id, intent=bound.name, params=params,
                              generation=found.generation)
    return {"runId": run_id, "token": token, "tokenType": "Bearer", "expiresIn": bound.spec.ttl,
            "intent": bound.name, "agentId": found.id, "scope": " ".join(sorted(scopes))}


async def replay(tools: TokenParts, run_id: str) -> dict[str, Any]:
    """Every recorded call of the run, re-executed dry; where the results differ from what the agent saw."""
    await tools.ready()
    records = await tools.audit.query({"runId": run_id}, limit=1000)
    if not records:  # an unknown or mistyped id must not read as "no differences"
        raise ObjectNotFound(f"No recorded calls for run {run_id}: check the id in the audit (ballast audit query).")
    calls = [await _replay_one(tools, record) for record in records]
    differing = [call for call in calls if call["status"] == "different"]
    return {"runId": run_id, "calls": calls, "replayed": sum(call["status"] != "skipped" for call in calls),
            "different": len(differing), "same": not differing}


async def _replay_one(tools: TokenParts, record: dict[str, Any]) -> dict[str, Any]:
    head = {"seq": record.get("seq"), "tool": record.get("tool"), "kind": record.get("kind")}
    if record.get("outcome") != "ok":
        return head | {"status": "skipped", "reason": f"outcome was {record.get('outcome')}"}
    try:
        refs, changed, digest = await _execute(tools, record)
    except ParseError as error:
        return head | {"status": "different", "error": error.message, "objects": []}
    objects = _compare(_refs(record.get("context")), refs)
    objects += _compare(_refs(record.get("changed")), _refs(changed), before=True)
    result_changed = bool(record.get("resultHash")) and digest is not None and digest != record.get("resultHash")
    status = "different" if objects or result_changed else "same"
    return head | {"status": status, "objects": objects, "resultChanged": result_changed}


async def _execute(tools: TokenParts, record: dict[str, Any]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    tool = tools.registry.get(str(record.get("tool")))
    if tool is None:
        raise InvalidValue(f"Tool {record.get('tool')} is no longer registered.")
    agent = await tools.agents.get(str(record["agentId"]))
    intent = await _intent(tools, record.get("intent"))
    given = tool.input_model.model_validate(record.get("input") or {})
    user = await tools.user_principal(record["userId"]) if record.get("userId") else None
    shaper = Shaper(intent, await tools.intents.field_policies(), LocalRunBudget(), agent.id, str(record.get("runId")),
                    tool.name)
    shaper.store = tools.intents  # provenance is looked up (and, in the rolled-back preview, marked) as it was
    request = tools.request_context(agent, user)
    restrict = agent.principal if user is not None else None
    db = tools.services.db
    if tool.kind == "read":
        async with db.unit(read_only=True) as unit:
            ctx = ToolContext(request, tools.services, unit, shaper.tool(tool), Mode.LIVE, tools.jobs,
                              restrict=restrict, shaper=shaper)
            output = await tool.handler(ctx, given)
        return ctx.refs, [], result_hash(output.model_dump(mode="json", by_alias=True, exclude_none=True))
    try:
        async with db.unit() as unit:  # a preview: everything it did is rolled back
            ctx = ToolContext(request, tools.services, unit, shaper.tool(tool), Mode.PREVIEW, tools.jobs,
                              restrict=restrict, shaper=shaper)
            await tool.handler(ctx, given)
            raise Rollback()
    except Rollback:
        pass
    return ctx.refs, [change.ref() for change in ctx.changes], None


async def _intent(tools: TokenParts, recorded: Any) -> RunIntent | None:
    if not isinstance(recorded, dict) or not recorded.get("name"):
        return None
    return await tools.intents.bind(str(recorded["name"]), dict(recorded.get("params") or {}))


def _refs(raw: Any) -> list[dict[str, Any]]:
    return [ref for ref in raw or [] if isinstance(ref, dict)]


def _compare(then: list[dict[str, Any]], now: list[dict[str, Any]], before: bool = False) -> list[dict[str, Any]]:
    """Objects whose version differs, that are gone, or that are new (changed objects: by identity only)."""
    then_by: dict[Ref, Any] = {(str(r["className"]), str(r["objectId"])): r.get("updatedAt") for r in then}
    now_by: dict[Ref, Any] = {(str(r["className"]), str(r["objectId"])): r.get("updatedAt") for r in now}
    found: list[dict[str, Any]] = []
    for key in sorted(then_by.keys() | now_by.keys()):
        if key not in now_by:
            change = "gone"
        elif key not in then_by:
            change = "new"
        elif not before and then_by[key] != now_by[key]:
            change = "changed"
        else:
            continue
        found.append({"className": key[0], "objectId": key[1], "change": change, "then": then_by.get(key),
                      "now": now_by.get(key), "part": "changed" if before else "context"})
    return found


async def with_access_token(tools: TokenParts, call: CallRequest) -> CallRequest:
    """A call whose bearer is an OAuth access (or run) token: its verified agent, scopes, run and intent."""
    token = call.token
    if not token or token.startswith(TOKEN_PREFIX):
        return call
    claims = tools.oauth.verify(token)
    if claims is None:
        return call  # the gateway refuses (and audits) it as an unknown token
    intent = await tools.intents.bind(claims.intent, claims.params) if claims.intent else None
    return dataclasses.replace(call, token=None, agent_id=claims.agent_id, scopes=claims.scopes,
                               run_id=claims.run_id or call.run_id, intent=intent,
                               source=(claims.generation, claims.token_id))
