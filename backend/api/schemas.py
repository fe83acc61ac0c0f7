"""/schemas and /purge: the class schema API (master key only, as parse-server)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from backend.api.responses import ParseJSON
from backend.deps import Body, MasterCtx, get_services
from backend.services.data.schema_admin import SchemaAdmin

router = APIRouter(tags=["schemas"])


def _admin(request: Request) -> SchemaAdmin:
    services = get_services(request)
    return SchemaAdmin(services.db, services.schemas, services.identity.security)


Admin = Annotated[SchemaAdmin, Depends(_admin)]


@router.get("/schemas")
@router.get("/schemas/", include_in_schema=False)  # the JS SDK's Parse.Schema.all() asks for "schemas/"
async def list_schemas(_: MasterCtx, admin: Admin) -> ParseJSON:
    return ParseJSON({"results": await admin.list()})


@router.get("/schemas/{class_name}")
async def get_schema(class_name: str, _: MasterCtx, admin: Admin) -> ParseJSON:
    return ParseJSON(await admin.get(class_name))


@router.post("/schemas")
async def create_schema_from_body(body: Body, ctx: MasterCtx, admin: Admin) -> ParseJSON:
    return ParseJSON(await admin.create(ctx, None, body))


@router.post("/schemas/{class_name}")
async def create_schema(class_name: str, body: Body, ctx: MasterCtx, admin: Admin) -> ParseJSON:
    return ParseJSON(await admin.create(ctx, class_name, body))


@router.put("/schemas/{class_name}")
async def update_schema(class_name: str, body: Body, ctx: MasterCtx, admin: Admin) -> ParseJSON:
    return ParseJSON(await admin.update(ctx, class_name, body))


@router.delete("/schemas/{class_name}")
async def delete_schema(class_name: str, ctx: MasterCtx, admin: Admin) -> ParseJSON:
    await admin.delete(ctx, class_name)
    return ParseJSON({})


@router.delete("/purge/{class_name}")
async def purge_class(class_name: str, ctx: MasterCtx, admin: Admin) -> ParseJSON:
    await admin.purge(ctx, class_name)
    return ParseJSON({})
