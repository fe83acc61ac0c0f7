"""Write tools over app data: create, update, delete, bulk update (never roles, never schema changes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent_tools.model.redaction import check_class, check_names, where_fields
from agent_tools.model.registry import ToolRegistry
from agent_tools.model.tool_context import ToolContext
from backend.errors import ObjectNotFound, OperationForbidden
from backend.services.data.objects import FindOptions

CLASS = Field(description="The Parse class name, e.g. 'Order'.", min_length=1, max_length=128)
OBJECT_ID = Field(description="The objectId of the object.", min_length=1, max_length=64)
FIELDS = Field(description="Field values or Parse update operators (Increment, Add, Remove...).")
BULK_MAX = 1000


class CreateInput(BaseModel):
    className: str = CLASS
    fields: dict[str, Any] = FIELDS


class Created(BaseModel):
    objectId: str
    createdAt: str


class UpdateInput(BaseModel):
    className: str = CLASS
    objectId: str = OBJECT_ID
    fields: dict[str, Any] = FIELDS


class Updated(BaseModel):
    updatedAt: str


class DeleteInput(BaseModel):
    className: str = CLASS
    objectId: str = OBJECT_ID


class Deleted(BaseModel):
    deleted: bool


class BulkInput(BaseModel):
    className: str = CLASS
    where: dict[str, Any] = Field(description="Which objects: a Parse query constraint.")
    fields: dict[str, Any] = FIELDS
    limit: int = Field(100, ge=1, le=BULK_MAX, description="At most this many objects.")


class BulkDeleteInput(BaseModel):
    className: str = CLASS
    where: dict[str, Any] = Field(description="Which objects: a Parse query constraint.")
    limit: int = Field(100, ge=1, le=BULK_MAX, description="At most this many objects.")


class BulkOut(BaseModel):
    updated: int
    objectIds: list[str]


async def _writable(ctx: ToolContext, class_name: str, fields: dict[str, Any] | None = None) -> None:
    """Agents change data, never the model: no system classes, no new classes or fields, no secrets."""
    check_class(class_name, ctx.tool.scope)
    if class_name.startswith("_"):
        raise OperationForbidden(f"Agents may not write system class {class_name} (roles, users, sessions...).")
    schema = await ctx.services.schemas.get(ctx.unit, class_name)
    if schema is None:
        raise ObjectNotFound(f"No class {class_name}; agents cannot create classes.")
    names = [name for name in (fields or {}) if name != "ACL"]
    check_names(names, ctx.tool.scope, "fields")
    unknown = sorted(set(names) - set(schema.fields))
    if unknown:
        raise OperationForbidden(f"Unknown field(s) {', '.join(unknown)}; agents cannot change the schema.")


async def create_object(ctx: ToolContext, given: CreateInput) -> Created:
    await _writable(ctx, given.className, given.fields)
    created = await ctx.create(given.className, given.fields)
    return Created(objectId=created["objectId"], createdAt=created["createdAt"])


async def update_object(ctx: ToolContext, given: UpdateInput) -> Updated:
    await _writable(ctx, given.className, given.fields)
    updated = await ctx.update(given.className, given.objectId, given.fields)
    return Updated(updatedAt=updated["updatedAt"])


async def delete_object(ctx: ToolContext, given: DeleteInput) -> Deleted:
    await _writable(ctx, given.className)
    await ctx.delete(given.className, given.objectId)
    return Deleted(deleted=True)


async def bulk_update(ctx: ToolContext, given: BulkInput) -> BulkOut:
    await _writable(ctx, given.className, given.fields)
    check_names(where_fields(given.where), ctx.tool.scope, "where")
    options = FindOptions(where=given.where, order="objectId", limit=given.limit, keys="objectId")
    found = await ctx.objects.find(ctx.request, given.className, options)
    ids = [str(obj["objectId"]) for obj in found.results]
    for object_id in ids:
        await ctx.update(given.className, object_id, given.fields)
    return BulkOut(updated=len(ids), objectIds=ids)


async def bulk_delete(ctx: ToolContext, given: BulkDeleteInput) -> BulkOut:
    await _writable(ctx, given.className)
    check_names(where_fields(given.where), ctx.tool.scope, "where")
    options = FindOptions(where=given.where, order="objectId", limit=given.limit, keys="objectId")
    found = await ctx.objects.find(ctx.request, given.className, options)
    ids = [str(obj["objectId"]) for obj in found.results]
    for object_id in ids:
        await ctx.delete(given.className, object_id)
    return BulkOut(updated=len(ids), objectIds=ids)


def register(registry: ToolRegistry) -> None:
    registry.tool("create_object", description="Create one object in an existing class (known fields only).",
                  input=CreateInput, output=Created, kind="write", rate="120/minute",
                  additive=True)(create_object)
    registry.tool("update_object", description="Change fields of one object; supports Parse update operators.",
                  input=UpdateInput, output=Updated, kind="write", rate="120/minute")(update_object)
    registry.tool("delete_object", description="Delete one object. High risk: waits for a human's approval.",
                  input=DeleteInput, output=Deleted, kind="write", risk="high", rate="60/minute")(delete_object)
    registry.tool("bulk_update", description=(
        "Apply the same field changes to every object matching 'where' (up to 'limit'). Up to 10 objects run "
        "at once; more wait for a human's approval with a preview."),
        input=BulkInput, output=BulkOut, kind="write", cap=10, rate="30/minute")(bulk_update)
    registry.tool("bulk_delete", description=(
        "Delete every object matching 'where' (up to 'limit'). Up to 3 objects run at once; more wait for a "
        "human's approval with a preview."),
        input=BulkDeleteInput, output=BulkOut, kind="write", cap=3, rate="30/minute")(bulk_delete)
