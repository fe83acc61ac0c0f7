"""Change events: ObjectService announces every committed create, update and delete.

LiveQuery, the agent audit and anything else listen here; a listener's failure
is logged and never reaches the request that made the change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from backend.context import RequestContext
from backend.storage.protocols import ClassSchema, Row

log = logging.getLogger("ballast.events")

EventKind = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    kind: EventKind
    schema: ClassSchema
    before: Row | None
    after: Row | None
    ctx: RequestContext

    @property
    def class_name(self) -> str:
        return self.schema.class_name


Listener = Callable[[ObjectEvent], Awaitable[None]]


class EventBus:
    """In-process fan-out of committed changes."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def publish(self, event: ObjectEvent) -> None:
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:  # one broken listener must not starve the others
                log.exception("change listener failed for %s %s", event.kind, event.class_name)
