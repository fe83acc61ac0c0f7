"""/hooks/functions and /hooks/triggers: webhooks, master key only (Parse Dashboard's Webhooks page)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.responses import ParseJSON
from backend.deps import Body, MasterCtx, Svc

router = APIRouter(tags=["hooks"])


@router.get("/hooks/functions")
async def list_functions(ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.hooks.find("functions"))


@router.get("/hooks/triggers")
async def list_triggers(ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.hooks.find("triggers"))


@router.get("/hooks/functions/{name}")
async def get_function(name: str, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.hooks.get_function(name))


@router.get("/hooks/triggers/{class_name}/{kind}")
async def get_trigger(class_name: str, kind: str, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.hooks.get_trigger(class_name, kind))


@router.post("/hooks/functions")
@router.post("/hooks/triggers")
async def create_hook(body: Body, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.hooks.create(body))


@router.put("/hooks/functions/{name}")
async def put_function(name: str, body: Body, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    """A url updates; ``{"__op": "Delete"}`` deletes (Parse's only way to delete a hook)."""
    if body.get("__op") == "Delete":
        await svc.hooks.delete({"functionName": name})
        return ParseJSON({})
    return ParseJSON(await svc.hooks.update({"functionName": name, "url": body.get("url")}))


@router.put("/hooks/triggers/{class_name}/{kind}")
async def put_trigger(class_name: str, kind: str, body: Body, ctx: MasterCtx, svc: Svc) -> ParseJSON:
    if body.get("__op") == "Delete":
        await svc.hooks.delete({"className": class_name, "triggerName": kind})
        return ParseJSON({})
    return ParseJSON(await svc.hooks.update({"className": class_name, "triggerName": kind, "url": body.get("url")}))
