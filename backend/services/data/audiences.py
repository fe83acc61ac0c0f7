"""Push audiences (``_Audience``): the saved installation queries Parse Dashboard's push page keeps.

As parse-server's AudiencesRouter: master key only, ``query`` stored as a JSON string and answered
decoded. One difference, safer: Ballast creates the class master-only, where Parse leaves
``/classes/_Audience`` open under the default class permissions.
"""

from __future__ import annotations

from typing import Any

from backend import jsontext
from backend.context import RequestContext
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.data.schemas import MASTER_ONLY_CLP

CLASS = "_Audience"


def decoded(audience: dict[str, Any]) -> dict[str, Any]:
    """An audience as Parse answers it: ``query`` parsed back into an object."""
    query = audience.get("query")
    if isinstance(query, str):
        try:
            return {**audience, "query": jsontext.parse(query)}
        except jsontext.JSONDecodeError:
            return audience
    return audience


class AudienceService:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects

    async def _ensure_class(self) -> None:
        async with self.objects.db.unit() as unit:
            body = {"classLevelPermissions": MASTER_ONLY_CLP}
            await self.objects.schemas.ensure_class(unit, CLASS, body)

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        await self._ensure_class()
        return await self.objects.create(ctx, CLASS, body)

    async def find(self, ctx: RequestContext, options: FindOptions) -> list[dict[str, Any]]:
        return [decoded(row) for row in (await self.objects.find(ctx, CLASS, options)).results]

    async def get(self, ctx: RequestContext, object_id: str) -> dict[str, Any]:
        return decoded(await self.objects.get(ctx, CLASS, object_id))

    async def update(self, ctx: RequestContext, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.objects.update(ctx, CLASS, object_id, body)

    async def delete(self, ctx: RequestContext, object_id: str) -> None:
        await self.objects.delete(ctx, CLASS, object_id)
