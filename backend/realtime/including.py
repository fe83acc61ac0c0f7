"""``include`` for live events: pointers resolved with the subscriber's own permissions.

Each pointer is read through ``ObjectService.get`` under the subscriber's
RequestContext, so ACL, CLP and deeper includes apply exactly as on a REST
query (parse-server's LiveQuery sends bare pointers; parse-server#1686).
"""

from __future__ import annotations

from typing import Any

from backend.context import RequestContext
from backend.errors import ParseError
from backend.services.data.objects import ObjectService


def include_plan(include: str) -> dict[str, str | None]:
    """``"a,b.c,b.d"`` -> {"a": None, "b": "c,d"}: the top-level fields and what to include below them."""
    plan: dict[str, list[str]] = {}
    for part in include.split(","):
        head, _, rest = part.strip().partition(".")
        if head:
            below = plan.setdefault(head, [])
            if rest:
                below.append(rest)
    return {name: (",".join(rest) or None) for name, rest in plan.items()}


async def resolve(objects: ObjectService, ctx: RequestContext, obj: dict[str, Any], include: str) -> None:
    """Replace the included pointers in ``obj`` (in place) by the objects the subscriber may read."""
    for name, deeper in include_plan(include).items():
        value = obj.get(name)
        if isinstance(value, list):
            obj[name] = [await _fetch(objects, ctx, item, deeper) for item in value]
        elif value is not None:
            obj[name] = await _fetch(objects, ctx, value, deeper)


async def _fetch(objects: ObjectService, ctx: RequestContext, value: Any, deeper: str | None) -> Any:
    if not isinstance(value, dict) or value.get("__type") != "Pointer":
        return value
    try:
        found = await objects.get(ctx, str(value["className"]), str(value["objectId"]), include=deeper)
    except ParseError:  # unreadable or gone: the subscriber keeps the bare pointer, as a REST include would
        return value
    return {"__type": "Object", "className": value["className"], **found}
