"""/aggregate/{className}: Parse's aggregation pipeline and distinct (master key only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from backend import jsontext
from backend.api.responses import ParseJSON
from backend.deps import MasterCtx, Objects, Svc
from backend.services.data.aggregate import AggregateService

router = APIRouter(tags=["aggregate"])


def _json_params(request: Request) -> dict[str, Any]:
    """Each query parameter as JSON when it parses, else as the string, as parse-server's JSONFromQuery."""
    params: dict[str, Any] = {}
    for key, raw in request.query_params.items():
        try:
            params[key] = jsontext.parse(raw)
        except jsontext.JSONDecodeError:
            params[key] = raw
    return params


@router.get("/aggregate/{class_name}")
async def aggregate(class_name: str, request: Request, ctx: MasterCtx, objects: Objects, svc: Svc) -> ParseJSON:
    service = AggregateService(objects, svc.settings.max_limit)
    params = {k: v for k, v in _json_params(request).items() if k not in IGNORED}
    return ParseJSON({"results": await service.run(ctx, class_name, params)})


IGNORED = frozenset({"hint", "explain", "readPreference", "comment", "rawValues", "rawFieldNames"})
