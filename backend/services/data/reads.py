"""One read check for every class and field a read touches, at any depth (rule 9 of docs/architecture.md).

A find is resolved into a tree of ``ReadNode``s: the class it names, then every class a
sub-query (``$inQuery``, ``$notInQuery``, ``$select``, ``$dontSelect``) reaches, at any depth;
each ``include`` level and each get is a node of its own. ``authorize_read`` gives every node
the rules a top-level find of that class by the same readers meets: the class-level permission,
internal and master-only classes (their CLP), fields protected from the reader (in where, order
and a ``$select`` key), pointer permissions and the ACL as row filters; for agents also the
``ReadLimits`` of the call (classes, fields, never-shown fields, the intent's rows, and under
delegation what the agent itself may read). Operators carry no checks of their own.

Names are checked as the parser left them (``q.Field`` paths), so exactly as storage reads
them: ``" email"`` and ``"-email"`` in an order, ``authData.anonymous.id`` in a where are all
the field they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from backend import querytree as q
from backend.context import Principal, RequestContext
from backend.errors import ObjectNotFound, OperationForbidden
from backend.services.data.query import SchemaLookup, parse_where
from backend.services.shared import access
from backend.storage.protocols import ClassSchema

ALWAYS_SHOWN = frozenset({"objectId", "createdAt", "updatedAt", "ACL"})


@dataclass(frozen=True)
class ReadNode:
    """One class a read touches: what it filters by, sorts by and projects."""

    schema: ClassSchema
    where: q.Node = q.MATCH_ALL
    order: tuple[q.Order, ...] = ()
    keys: tuple[str, ...] = ()  # projected or included names (dotted: their first segment counts)
    operation: access.Operation = "find"
    selected: tuple[str, ...] = ()  # a $select key: read from this class as much as a where is


def readers(ctx: RequestContext) -> tuple[Principal, ...]:
    """Whose rights a read must satisfy: the principal, and the agent it acts for a user with."""
    also = ctx.limits.also if ctx.limits is not None else None
    return (ctx.principal,) if also is None else (ctx.principal, also)


def authorize_read(ctx: RequestContext, node: ReadNode, lookup: SchemaLookup) -> q.Node:
    """The node's where as it may run: refused (119/101) on a class or field a reader may not read,
    sub-queries authorized the same way, narrowed to the rows every reader may see."""
    require_class(ctx, node.schema, node.operation)
    require_fields(ctx, node.schema, (field.path[0] for field in own_fields(node.where)), "query")
    require_fields(ctx, node.schema, node.selected, "query")
    require_fields(ctx, node.schema, (order.field.path[0] for order in node.order), "sort by")
    require_limited(ctx, node.schema, (name.split(".")[0] for name in node.keys), "keys")
    return narrow(ctx, node.schema, _sub_reads(ctx, node.where, lookup), node.operation, lookup)


def require_class(ctx: RequestContext, schema: ClassSchema, operation: access.Operation) -> None:
    limits = ctx.limits
    if limits is not None and limits.classes is not None and schema.class_name not in limits.classes:
        raise OperationForbidden(f"This tool may not touch class {schema.class_name}.")
    for reader in readers(ctx):
        access.require_class(reader, schema, operation)


def may_read_class(ctx: RequestContext, schema: ClassSchema, operation: access.Operation) -> bool:
    try:
        require_class(ctx, schema, operation)
    except (OperationForbidden, ObjectNotFound):
        return False
    return True


def require_fields(ctx: RequestContext, schema: ClassSchema, names: Iterable[str], verb: str) -> None:
    """Filtering or sorting by a field is reading it: refused when it is hidden from any reader."""
    names = tuple(names)
    if not names:
        return
    hidden: frozenset[str] = frozenset()
    for reader in readers(ctx):
        if not reader.is_master:
            hidden |= access.protected_fields(reader, schema, {})
    for name in names:
        if name in hidden:
            raise OperationForbidden(f"This user is not allowed to {verb} {name[:64]} on class {schema.class_name}")
    require_limited(ctx, schema, names, verb)


def require_limited(ctx: RequestContext, schema: ClassSchema, names: Iterable[str], what: str) -> None:
    """The call's own limits on fields: never-shown fields, and the fields its scope or intent names."""
    limits = ctx.limits
    if limits is None:
        return
    allowed = limits.fields.get(schema.class_name)
    for name in names:
        if name in limits.hidden:
            raise OperationForbidden(f"Field {name[:64]} is never available to agents ({what}).")
        if allowed is not None and name and name not in allowed and name not in ALWAYS_SHOWN:
            raise OperationForbidden(f"Field {name[:64]} of {schema.class_name} is outside this call's scope ({what}).")


def narrow(ctx: RequestContext, schema: ClassSchema, where: q.Node, operation: access.Operation,
           lookup: SchemaLookup) -> q.Node:
    """``where`` limited to the rows every reader may see: each one's pointer permissions, the
    second reader's ACL (the first's is the storage's read_names), the call's row filter."""
    parts = [where]
    for reader in readers(ctx):
        fields = access.user_fields(reader, schema, operation)
        if fields is not None:
            parts.append(parse_where(access.user_fields_where(fields, reader.user_id), schema, lookup))
    limits = ctx.limits
    if limits is not None:
        if limits.also is not None and not limits.also.is_master:
            parts.append(q.ReadableBy(limits.also.acl_names()))
        rows = limits.rows.get(schema.class_name)
        if rows is not None:  # the intent's own filter: trusted, so parsed without the field checks
            parts.append(parse_where(rows, schema, lookup))
    return where if len(parts) == 1 else q.And(tuple(parts))


def own_fields(node: q.Node) -> Iterator[q.Field]:
    """The fields of the node's own class a where reads (a sub-query's fields are its class's)."""
    if isinstance(node, q.And | q.Or | q.Nor):
        for child in node.children:
            yield from own_fields(child)
    elif not isinstance(node, q.RelatedTo | q.ReadableBy):
        yield node.field


def _sub_reads(ctx: RequestContext, node: q.Node, lookup: SchemaLookup) -> q.Node:
    """The tree with every sub-query authorized as a read of its own class."""
    if isinstance(node, q.And | q.Or | q.Nor):
        return type(node)(tuple(_sub_reads(ctx, child, lookup) for child in node.children))
    if isinstance(node, q.InQuery):
        return replace(node, query=_sub_query(ctx, node.query, (), lookup))
    if isinstance(node, q.Select):
        return replace(node, query=_sub_query(ctx, node.query, (node.key.path[0],), lookup))
    if isinstance(node, q.RelatedTo):  # which objects the owner relates to is read from the owner
        owner = lookup(node.owner.class_name)
        if owner is not None:
            require_class(ctx, owner, "get")
    return node


def _sub_query(ctx: RequestContext, sub: q.SubQuery, selected: tuple[str, ...], lookup: SchemaLookup) -> q.SubQuery:
    if sub.schema is None:  # no such class: it finds nothing, so it reveals nothing
        return sub
    where = authorize_read(ctx, ReadNode(sub.schema, sub.where, selected=selected), lookup)
    return replace(sub, where=where)
