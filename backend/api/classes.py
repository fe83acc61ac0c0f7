"""/classes/{className}: create, query, get, update, delete.

These carry nearly all of an app's traffic, so they are plain Starlette
endpoints that fetch their context explicitly, matched first, straight from
the app's route table: FastAPI's dependency solving cost about a fifth of a get
by id, and its nested router matching another twentieth.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from backend.api.installations import create_installation, update_installation
from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON, created
from backend.api.users import USERS, sign_up, with_own_session
from backend.deps import get_services, json_body, request_context
from backend.services.data.installations import CLASS as INSTALLATION
from backend.services.data.installations import InstallationService


async def create_object(request: Request) -> ParseJSON:
    class_name: str = request.path_params["class_name"]
    body = await json_body(request)
    ctx = await request_context(request)
    svc = get_services(request)
    if class_name == INSTALLATION:  # parse-server applies the installation rules on /classes/_Installation too
        return await create_installation(body, ctx, InstallationService(svc.objects), svc)
    if class_name == USERS:  # a sign-up, as POST /users (Location too: parse-server names /users/<id> for both)
        return await sign_up(body, ctx, svc)
    saved = await svc.objects.create(ctx, class_name, body)
    return created(saved, f"{svc.settings.public_url}/classes/{class_name}/{saved['objectId']}")


async def find_objects(request: Request) -> ParseJSON:
    ctx = await request_context(request)
    found = await get_services(request).objects.find(ctx, request.path_params["class_name"], find_options(request))
    return ParseJSON(find_response(found.results, found.count, found.class_name))


async def get_object(request: Request) -> ParseJSON:
    ctx = await request_context(request)
    path, params = request.path_params, request.query_params
    obj = await get_services(request).objects.get(
        ctx, path["class_name"], path["object_id"],
        keys=params.get("keys"), include=params.get("include"), exclude_keys=params.get("excludeKeys"),
    )
    if path["class_name"] == USERS:
        obj = with_own_session(ctx, path["object_id"], obj)
    return ParseJSON(obj)


async def update_object(request: Request) -> ParseJSON:
    class_name: str = request.path_params["class_name"]
    object_id: str = request.path_params["object_id"]
    body = await json_body(request)
    ctx = await request_context(request)
    objects = get_services(request).objects
    if class_name == INSTALLATION:
        return await update_installation(object_id, body, ctx, InstallationService(objects))
    return ParseJSON(await objects.update(ctx, class_name, object_id, body))


async def delete_object(request: Request) -> ParseJSON:
    ctx = await request_context(request)
    await get_services(request).objects.delete(ctx, request.path_params["class_name"], request.path_params["object_id"])
    return ParseJSON({})


def routes(prefix: str) -> list[Route]:
    """The object routes under ``prefix``, for the app's own route table (see backend/app.py)."""
    return [
        Route(f"{prefix}/classes/{{class_name}}", create_object, methods=["POST"]),
        Route(f"{prefix}/classes/{{class_name}}", find_objects, methods=["GET"]),
        Route(f"{prefix}/classes/{{class_name}}/{{object_id}}", get_object, methods=["GET"]),
        Route(f"{prefix}/classes/{{class_name}}/{{object_id}}", update_object, methods=["PUT"]),
        Route(f"{prefix}/classes/{{class_name}}/{{object_id}}", delete_object, methods=["DELETE"]),
    ]
