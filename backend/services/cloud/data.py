"""What cloud code reaches data through: ObjectService bound to one RequestContext.

``req.db`` is bound to the caller (its ACLs and class permissions apply);
``req.master_db`` to the master context, the explicit escalation Parse spells
``useMasterKey: true``.
"""

from __future__ import annotations

from typing import Any

from backend.context import RequestContext
from backend.services.data.objects import FindOptions, ObjectService


class CloudData:
    """ObjectService as the given context: find, get, count, create, update, delete (Parse JSON in and out)."""

    def __init__(self, objects: ObjectService, ctx: RequestContext) -> None:
        self.objects = objects
        self.ctx = ctx

    async def find(self, class_name: str, where: dict[str, Any] | None = None, **options: Any) -> list[dict[str, Any]]:
        """Objects of a class; ``options`` are FindOptions (order, limit, skip, keys, include...)."""
        found = await self.objects.find(self.ctx, class_name, FindOptions(where=where, **options))
        return found.results

    async def get(self, class_name: str, object_id: str) -> dict[str, Any]:
        return await self.objects.get(self.ctx, class_name, object_id)

    async def count(self, class_name: str, where: dict[str, Any] | None = None) -> int:
        return await self.objects.count(self.ctx, class_name, where)

    async def create(self, class_name: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self.objects.create(self.ctx, class_name, data)

    async def update(self, class_name: str, object_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self.objects.update(self.ctx, class_name, object_id, data)

    async def delete(self, class_name: str, object_id: str) -> None:
        await self.objects.delete(self.ctx, class_name, object_id)
