"""``/aggregate/{className}``: fetch through ObjectService (the leading $match as the where), then run the pipeline.

Rows are read page by page in objectId order, so a pipeline sees the whole
class however large, within ``max_rows`` (a bound on the memory one request
may take).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.context import RequestContext
from backend.errors import InvalidQuery, OperationForbidden
from backend.services.data import pipeline
from backend.services.data.objects import FindOptions, ObjectService


class AggregateService:
    def __init__(self, objects: ObjectService, page_size: int, max_rows: int = 1_000_000) -> None:
        self.objects = objects
        self.page_size = page_size
        self.max_rows = max_rows

    async def run(self, ctx: RequestContext, class_name: str, params: Mapping[str, Any]) -> list[Any]:
        """``params``: ``pipeline`` or stage keys, plus ``where`` and ``distinct``, JSON-decoded."""
        if ctx.principal.is_read_only:
            raise OperationForbidden("Cannot run an aggregation pipeline when using the readOnlyMasterKey")
        stages = pipeline.stages_from(params)
        where, rest = pipeline.split_match(stages)
        given = params.get("where")
        if given is not None and not isinstance(given, dict):
            raise InvalidQuery("where must be a JSON object.")
        if given:
            where = given if where is None else {"$and": [given, where]}
        docs = await self._fetch(ctx, class_name, where)
        distinct = params.get("distinct")
        if distinct is not None:
            if not isinstance(distinct, str) or not distinct:
                raise InvalidQuery("distinct must name a field.")
            return pipeline.distinct(docs, distinct)
        return pipeline.run(docs, rest)

    async def _fetch(self, ctx: RequestContext, class_name: str, where: Any) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        while True:
            options = FindOptions(where=where, order="objectId", limit=self.page_size, skip=len(docs))
            page = (await self.objects.find(ctx, class_name, options)).results
            docs.extend(page)
            if len(page) < self.page_size:
                return docs
            if len(docs) >= self.max_rows:
                raise InvalidQuery(f"The aggregation reads more than {self.max_rows} objects; narrow it with $match.")
