"""Every Parse route group, mounted under the mount path; read it as the API's table of contents."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api import classes, health


def parse_router() -> APIRouter:
    router = APIRouter()
    router.include_router(health.router)
    router.include_router(classes.router)
    return router
