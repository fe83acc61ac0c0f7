"""Console admins over HTTP under ``/agent/v1/admin``: sign in and out, and (master key only) manage admins.

``POST /session`` takes a username and password and answers an admin session token, sent
back as ``Authorization: Bearer <token>`` or ``X-Ballast-Admin-Session``. Sign-ins are rate
limited per address and every attempt is a security record.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from agent_tools.faces.admin_auth import (
    Admin,
    AdminRefused,
    MasterAdmin,
    admin_sign_in,
    admin_token_of,
    agent_credentials_in,
    note,
)
from agent_tools.faces.rest import PREFIX, Tools
from agent_tools.stores.admins import ROLES
from backend.api.auth import client_ip
from backend.api.responses import ParseJSON

router = APIRouter(prefix=PREFIX + "/admin", tags=["console admins"])


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=4096)


class NewAdmin(SignIn):
    role: str = Field("admin", pattern="^(" + "|".join(ROLES) + ")$")


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=4096)


@router.post("/session")
async def sign_in(body: SignIn, request: Request, tools: Tools) -> ParseJSON:
    if agent_credentials_in(request):
        raise AdminRefused("admin.agent_credentials: a request carrying agent credentials cannot administer.")
    session = await admin_sign_in(tools, body.username, body.password, client_ip(request))
    return ParseJSON(session.to_wire(), status_code=201)


@router.get("/session")
async def current_session(caller: Admin) -> ParseJSON:
    return ParseJSON({"actor": caller.name, "canChange": caller.can_change,
                      "admin": caller.admin.to_wire() if caller.admin else None})


@router.delete("/session")
async def sign_out(request: Request, tools: Tools, caller: Admin) -> ParseJSON:
    ended = await tools.admins.end(admin_token_of(request))
    if ended:
        await note(tools, caller, "admin.logout", caller.admin.id if caller.admin else None)
    return ParseJSON({"ended": ended})


@router.get("/admins")
async def list_admins(tools: Tools, _: Admin) -> ParseJSON:
    return ParseJSON({"results": [admin.to_wire() for admin in await tools.admins.all()]})


@router.post("/admins")
async def create_admin(body: NewAdmin, tools: Tools, caller: MasterAdmin) -> ParseJSON:
    await tools.ready()
    admin = await tools.admins.create(body.username, body.password, body.role)
    await note(tools, caller, "admin.create", admin.id, {"username": admin.username, "role": admin.role})
    return ParseJSON(admin.to_wire(), status_code=201)


@router.post("/admins/{username}/disable")
async def disable_admin(username: str, tools: Tools, caller: MasterAdmin) -> ParseJSON:
    admin = await tools.admins.disable(username)
    await note(tools, caller, "admin.disable", admin.id, {"username": username})
    return ParseJSON(admin.to_wire())


@router.put("/admins/{username}/password")
async def change_password(username: str, body: NewPassword, tools: Tools, caller: MasterAdmin) -> ParseJSON:
    admin = await tools.admins.set_password(username, body.password)
    await note(tools, caller, "admin.password", admin.id, {"username": username})
    return ParseJSON(admin.to_wire())
