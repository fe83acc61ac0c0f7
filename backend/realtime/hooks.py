"""Cloud code around LiveQuery: beforeConnect, beforeSubscribe, afterLiveQueryEvent.

Handlers are registered with ``cloud.trigger(kind, className)`` (beforeConnect
under ``"@Connect"``, as Parse registers it). A handler may be sync or async;
it changes the request object it is handed, and refuses by raising a
ParseError (``cloud.error(...)``), which reaches the client as an ``error``
frame. With nothing registered, every hook is skipped at the cost of one
dictionary lookup.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.cloud import Registry
from backend.context import Principal
from backend.errors import ParseError, ScriptFailed

CONNECT_CLASS = "@Connect"


@dataclass
class ConnectRequest:
    principal: Principal
    installation_id: str | None
    use_master_key: bool
    clients: int
    subscriptions: int


@dataclass
class SubscribeRequest:
    principal: Principal
    class_name: str
    where: dict[str, Any]
    keys: list[str] | None
    watch: list[str] | None
    installation_id: str | None


@dataclass
class LiveEventRequest:
    """One event about to reach one subscriber: set ``send_event`` False to drop it, or edit the objects."""

    principal: Principal
    event: str
    class_name: str
    object: dict[str, Any]
    original: dict[str, Any] | None
    installation_id: str | None
    send_event: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class LiveHooks:
    """Looks handlers up in the current registry (cloud code may be reloaded while the server runs)."""

    def __init__(self, registry: Callable[[], Registry]) -> None:
        self.registry = registry

    def has(self, kind: str, class_name: str) -> bool:
        return (kind, class_name) in self.registry().triggers

    async def run(self, kind: str, class_name: str, request: object) -> None:
        handler = self.registry().triggers.get((kind, class_name))
        if handler is None:
            return
        try:
            result = handler(request)
            if inspect.isawaitable(result):
                await result
        except ParseError:
            raise
        except Exception as error:  # cloud code bugs reach the client as Parse's 141, not a crash
            raise ScriptFailed(str(error) or type(error).__name__) from error
