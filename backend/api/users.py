"""/users, /login, /logout, /users/me, /requestPasswordReset, /verificationEmailRequest,
/upgradeToRevocableSession: Parse's user routes (HTTP only; the rules are in services)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request

from backend.api.params import find_options, find_response
from backend.api.responses import ParseJSON, created
from backend.context import RequestContext
from backend.deps import Body, Ctx, Objects, Svc
from backend.services.data.batch import BatchRoutes
from backend.services.shared.units import Unit
from backend.services.wiring import Services

router = APIRouter(tags=["users"])
USERS = "_User"


@router.post("/users")
async def sign_up(body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    login = await svc.identity.accounts.sign_up(ctx, body)
    if not login.created:
        return ParseJSON(login.user)
    return created(login.user, f"{svc.settings.public_url}/users/{login.user['objectId']}")


@router.get("/users/me")
async def me(ctx: Ctx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.identity.accounts.me(ctx))


@router.get("/users")
async def find_users(request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    found = await objects.find(ctx, USERS, find_options(request))
    return ParseJSON(find_response(found.results, found.count, found.class_name))


@router.get("/users/{object_id}")
async def get_user(object_id: str, request: Request, ctx: Ctx, objects: Objects) -> ParseJSON:
    params = request.query_params
    user = await objects.get(ctx, USERS, object_id, keys=params.get("keys"), include=params.get("include"),
                             exclude_keys=params.get("excludeKeys"))
    return ParseJSON(with_own_session(ctx, object_id, user))


def with_own_session(ctx: RequestContext, object_id: str, user: dict[str, object]) -> dict[str, object]:
    """Parse answers a get of the caller's own user with the caller's session token: the JS SDK's
    ``User.current().fetch()`` keeps the session only when the answer carries it."""
    token = ctx.principal.session_token
    if token is not None and ctx.principal.user_id == object_id:
        return {**user, "sessionToken": token}
    return user


@router.put("/users/{object_id}")
async def update_user(object_id: str, body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.identity.accounts.update(ctx, object_id, body))


@router.delete("/users/{object_id}")
async def delete_user(object_id: str, ctx: Ctx, objects: Objects) -> ParseJSON:
    await objects.delete(ctx, USERS, object_id)
    return ParseJSON({})


@router.get("/login")
async def log_in_get(request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    params = request.query_params
    login = await svc.identity.accounts.log_in(ctx, params.get("username"), params.get("email"),
                                               params.get("password"))
    return ParseJSON(login.user)


@router.post("/login")
async def log_in_post(body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    login = await svc.identity.accounts.log_in(ctx, body.get("username"), body.get("email"), body.get("password"))
    return ParseJSON(login.user)


@router.get("/verifyPassword")
async def verify_password_get(request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    params = request.query_params
    return ParseJSON(await svc.identity.accounts.verify_password(ctx, params.get("username"), params.get("email"),
                                                                 params.get("password")))


@router.post("/verifyPassword")
async def verify_password_post(body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.identity.accounts.verify_password(ctx, body.get("username"), body.get("email"),
                                                                 body.get("password")))


@router.post("/loginAs")
async def log_in_as(body: Body, request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    login = await svc.identity.accounts.log_in_as(ctx, body.get("userId") or request.query_params.get("userId"))
    return ParseJSON(login.user)


@router.post("/logout")
async def log_out(ctx: Ctx, svc: Svc) -> ParseJSON:
    await svc.identity.accounts.log_out(ctx)
    return ParseJSON({})


@router.post("/requestPasswordReset")
async def request_password_reset(body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    await svc.identity.accounts.request_password_reset(ctx, body.get("email"))
    return ParseJSON({})


@router.post("/verificationEmailRequest")
async def verification_email_request(body: Body, ctx: Ctx, svc: Svc) -> ParseJSON:
    await svc.identity.accounts.request_verification(ctx, body.get("email"))
    return ParseJSON({})


@router.post("/upgradeToRevocableSession")
async def upgrade_session(ctx: Ctx, svc: Svc) -> ParseJSON:
    return ParseJSON(await svc.identity.accounts.upgrade_session(ctx))


def user_routes(routes: BatchRoutes, services: Services) -> None:
    """The /users calls of a batch that have rules beyond /classes/_User's: sign-up, and 202/203 on update."""
    accounts = services.identity.accounts

    async def create(ctx: RequestContext, _: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return (await accounts.sign_up(ctx, body, unit)).user

    async def update(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await accounts.update(ctx, p["objectId"], body, unit)

    async def get(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        user = await services.objects.get(ctx, USERS, p["objectId"], keys=body.get("keys"),
                                          include=body.get("include"), exclude_keys=body.get("excludeKeys"),
                                          unit=unit)
        return with_own_session(ctx, p["objectId"], user)

    for prefix in ("/users", f"/classes/{USERS}"):
        routes.add("POST", prefix, create)
        routes.add("PUT", prefix + "/{objectId}", update)
        routes.add("GET", prefix + "/{objectId}", get)
