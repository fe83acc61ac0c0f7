"""Storage fixtures: the service graph on the engine under test, started and stopped around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.config import Settings
from backend.services.wiring import Services, build_services


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = build_services(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.stop()
