"""Handlers' services and context: plain functions of the request, and the Annotated aliases FastAPI injects.

The hot data routes (backend/api/classes.py) call the plain functions directly.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from backend import jsontext
from backend.api.auth import resolve_context
from backend.context import RequestContext
from backend.errors import InvalidJSON, MasterKeyRequired
from backend.services.data.config import ConfigService
from backend.services.data.objects import ObjectService
from backend.services.data.schemas import SchemaService
from backend.services.shared.rate_limits import named_in
from backend.services.wiring import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def request_context(request: Request) -> RequestContext:
    """Who the request acts as, once the rate limits (Parse's ``rateLimit``) let it through."""
    services = get_services(request)
    ctx = await resolve_context(request, services.settings, services.sessions)
    await services.limits.check(ctx, request.method, _route_path(request, services), lambda: _username(request))
    return ctx


def _route_path(request: Request, services: Services) -> str:
    """The path below the mount path, as Parse's ``requestPath`` names routes (``/login``, ``/classes/X``)."""
    # the scope's path, escaped as request.url.path would be, without building (and parsing) the whole URL
    path: str = request.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    settings = services.settings
    for mount in (settings.mount_path, *settings.extra_mount_paths):
        if path.startswith(mount + "/"):
            return path[len(mount):]
    return path


async def _username(request: Request) -> str | None:
    """The username (or email) a log-in, sign-up or reset names, from the query or the JSON body."""
    found = request.query_params.get("username") or request.query_params.get("email")
    if found is not None or request.method == "GET":
        return found
    try:
        body = jsontext.parse(await request.body() or b"{}")
    except jsontext.JSONDecodeError:
        return None
    return await named_in(body)()


async def master_context(ctx: Annotated[RequestContext, Depends(request_context)]) -> RequestContext:
    if not ctx.principal.is_master:
        raise MasterKeyRequired()
    return ctx


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = jsontext.parse(raw)
    except jsontext.JSONDecodeError as error:
        raise InvalidJSON("The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise InvalidJSON("The request body must be a JSON object.")
    return body


# Providers are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
# hop per dependency per request that cost ~7% of a GET's time under load (benchmarks/crud.py).
async def _services(request: Request) -> Services:
    return get_services(request)


async def _objects(request: Request) -> ObjectService:
    return get_services(request).objects


async def _schemas(request: Request) -> SchemaService:
    return get_services(request).schemas


async def _config(request: Request) -> ConfigService:
    return get_services(request).config


Svc = Annotated[Services, Depends(_services)]
Ctx = Annotated[RequestContext, Depends(request_context)]
MasterCtx = Annotated[RequestContext, Depends(master_context)]
Body = Annotated[dict[str, Any], Depends(json_body)]
Objects = Annotated[ObjectService, Depends(_objects)]
Schemas = Annotated[SchemaService, Depends(_schemas)]
Config = Annotated[ConfigService, Depends(_config)]
