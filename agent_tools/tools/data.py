"""Read tools over app data: classes, schemas, queries, single objects, counts (ACL/CLP as the agent)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent_tools.model.redaction import EMAIL, check_class, check_names, where_fields
from agent_tools.model.registry import ALWAYS_REDACTED, ToolRegistry
from agent_tools.model.tool_context import ToolContext
from backend.errors import ObjectNotFound, OperationForbidden
from backend.services.data.objects import FindOptions
from backend.services.shared import access

CLASS = Field(description="The Parse class name, e.g. 'Order'.", min_length=1, max_length=128)
OBJECT_ID = Field(description="The objectId of the object.", min_length=1, max_length=64)


class NoInput(BaseModel):
    pass


class ClassSummary(BaseModel):
    className: str
    fields: int


class ClassList(BaseModel):
    classes: list[ClassSummary]


class ClassRef(BaseModel):
    className: str = CLASS


class ClassDescription(BaseModel):
    className: str
    fields: dict[str, dict[str, Any]]


class QueryInput(BaseModel):
    className: str = CLASS
    where: dict[str, Any] = Field(default_factory=dict, description="A Parse query constraint object.")
    order: str | None = Field(None, description="Comma-separated fields; '-' for descending.", max_length=512)
    limit: int = Field(20, ge=1, le=100)
    skip: int = Field(0, ge=0, le=10_000)
    keys: list[str] | None = Field(None, description="Only these fields.", max_length=64)
    include: list[str] | None = Field(None, description="Pointer fields to resolve.", max_length=8)


class Objects(BaseModel):
    results: list[dict[str, Any]]


class GetInput(BaseModel):
    className: str = CLASS
    objectId: str = OBJECT_ID
    keys: list[str] | None = Field(None, max_length=64)
    include: list[str] | None = Field(None, max_length=8)


class ObjectOut(BaseModel):
    object: dict[str, Any]


class CountInput(BaseModel):
    className: str = CLASS
    where: dict[str, Any] = Field(default_factory=dict)


class CountOut(BaseModel):
    count: int


def _visible(ctx: ToolContext, class_name: str, operation: access.Operation = "find") -> bool:
    schema = ctx.services.schemas.cached(class_name)
    if schema is None or not ctx.tool.scope.allows_class(class_name):
        return False
    try:
        access.require_class(ctx.request.principal, schema, operation)
    except OperationForbidden:
        return False
    return True


def _hidden_field(ctx: ToolContext, name: str) -> bool:
    return name in ALWAYS_REDACTED or (name == EMAIL and not ctx.tool.scope.emails)


async def list_classes(ctx: ToolContext, _: NoInput) -> ClassList:
    schemas = ctx.services.schemas.all_cached()
    shown = [ClassSummary(className=s.class_name, fields=len(s.fields)) for s in schemas
             if _visible(ctx, s.class_name) or _visible(ctx, s.class_name, "get")]
    return ClassList(classes=shown)


async def describe_class(ctx: ToolContext, given: ClassRef) -> ClassDescription:
    check_class(given.className, ctx.tool.scope)
    schema = ctx.services.schemas.cached(given.className)
    if schema is None or not (_visible(ctx, given.className) or _visible(ctx, given.className, "get")):
        raise ObjectNotFound(f"No class {given.className} visible to this agent.")
    fields = {name: spec.to_wire() for name, spec in schema.fields.items() if not _hidden_field(ctx, name)}
    return ClassDescription(className=schema.class_name, fields=fields)


def _check_query(ctx: ToolContext, class_name: str, where: Any, order: str | None, keys: list[str] | None,
                 include: list[str] | None) -> None:
    check_class(class_name, ctx.tool.scope)
    scope = ctx.tool.scope
    check_names(where_fields(where), scope, "where")
    check_names((order or "").split(","), scope, "order")
    check_names(keys or [], scope, "keys")
    check_names(include or [], scope, "include")


async def query_objects(ctx: ToolContext, given: QueryInput) -> Objects:
    _check_query(ctx, given.className, given.where, given.order, given.keys, given.include)
    options = FindOptions(where=given.where, order=given.order, limit=given.limit, skip=given.skip,
                          keys=",".join(given.keys) if given.keys else None,
                          include=",".join(given.include) if given.include else None)
    found = await ctx.objects.find(ctx.request, given.className, options)
    shown = [obj for obj in found.results if ctx.visible(given.className, obj)]
    return Objects(results=[ctx.show(given.className, obj) for obj in shown])


async def get_object(ctx: ToolContext, given: GetInput) -> ObjectOut:
    _check_query(ctx, given.className, {}, None, given.keys, given.include)
    obj = await ctx.objects.get(ctx.request, given.className, given.objectId,
                                keys=",".join(given.keys) if given.keys else None,
                                include=",".join(given.include) if given.include else None)
    return ObjectOut(object=ctx.show(given.className, obj))


async def count_objects(ctx: ToolContext, given: CountInput) -> CountOut:
    _check_query(ctx, given.className, given.where, None, None, None)
    found = await ctx.objects.find(ctx.request, given.className, FindOptions(where=given.where, limit=0, count=True))
    return CountOut(count=found.count or 0)


def register(registry: ToolRegistry) -> None:
    def read(name: str, description: str, input: type[BaseModel], output: type[BaseModel], handler: Any) -> None:
        registry.tool(name, description=description, input=input, output=output, kind="read",
                      rate="600/minute")(handler)

    read("list_classes", "List the data classes this agent may read.", NoInput, ClassList, list_classes)
    read("describe_class", "Show a class's fields and their types.", ClassRef, ClassDescription, describe_class)
    read("query_objects", "Find objects of a class with a Parse 'where' constraint; at most 100 per call. "
         "Secret fields (passwords, session tokens, auth data, emails) are never returned.",
         QueryInput, Objects, query_objects)
    read("get_object", "Fetch one object of a class by its objectId.", GetInput, ObjectOut, get_object)
    read("count_objects", "Count the objects of a class matching a 'where' constraint.", CountInput, CountOut,
         count_objects)
