"""``uvicorn --factory benchmarks.ballast_app:app``: Ballast from the environment, as ``ballast serve`` builds it."""

from __future__ import annotations

from fastapi import FastAPI

from backend.app import create_app
from backend.config import Settings
from backend.embedded import prepare


def app() -> FastAPI:
    settings, _ = prepare(Settings())
    return create_app(settings)
