"""Every Parse route group, mounted under the mount path; read it as the API's table of contents."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api import (
    account_pages,
    aggregate,
    analytics,
    audiences,
    batch,
    config,
    health,
    hooks,
    installations,
    logs,
    push,
    roles,
    schemas,
)
from backend.api import files as files_api
from backend.api import functions as functions_api
from backend.api import jobs as jobs_api
from backend.api import openapi as openapi_api
from backend.api import sessions as sessions_api
from backend.api import users as users_api


def parse_router() -> APIRouter:
    """Every Parse route but the object routes (backend/api/classes.py), which the app matches first."""
    router = APIRouter()
    router.include_router(health.router)
    router.include_router(batch.router)
    router.include_router(schemas.router)
    router.include_router(config.router)
    router.include_router(installations.router)
    router.include_router(aggregate.router)
    router.include_router(openapi_api.router)
    router.include_router(files_api.router)
    router.include_router(functions_api.router)
    router.include_router(jobs_api.router)
    router.include_router(users_api.router)
    router.include_router(sessions_api.router)
    router.include_router(roles.router)
    router.include_router(account_pages.router)
    router.include_router(analytics.router)
    router.include_router(push.router)
    router.include_router(audiences.router)
    router.include_router(logs.router)
    router.include_router(hooks.router)
    return router
