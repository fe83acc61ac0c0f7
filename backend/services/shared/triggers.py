"""The trigger seam: what ObjectService asks cloud code before and after it acts.

ObjectService calls these hooks at Parse's points (beforeSave may change or
veto a write inside its transaction; afterSave runs after commit and cannot
fail the request). ``NoTriggers`` is the default; cloud code supplies the real
registry through the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.context import RequestContext


@dataclass
class SaveRequest:
    """A write about to happen: ``data`` is the client's JSON for the fields written (mutable)."""

    ctx: RequestContext
    class_name: str
    data: dict[str, Any]
    original: dict[str, Any] | None = None  # the stored object as Parse JSON, for updates
    object_id: str | None = None


@dataclass
class FindRequest:
    """A query about to run; a trigger may narrow ``where`` or change other options."""

    ctx: RequestContext
    class_name: str
    where: Any
    options: dict[str, Any] = field(default_factory=dict)
    is_get: bool = False  # a get by id (Parse's request.isGet)


class Triggers(Protocol):
    def handles(self, kind: str, class_name: str) -> bool:
        """Whether a trigger of this kind is registered for the class (lets the caller skip work)."""

    async def before_save(self, request: SaveRequest) -> None: ...

    async def after_save(self, ctx: RequestContext, class_name: str, obj: dict[str, Any],
                         original: dict[str, Any] | None) -> None: ...

    async def before_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None: ...

    async def after_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None: ...

    async def before_find(self, request: FindRequest) -> None: ...

    async def after_find(self, ctx: RequestContext, class_name: str,
                         results: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


class NoTriggers:
    """No cloud code: every hook passes."""

    def handles(self, kind: str, class_name: str) -> bool:
        return False

    async def before_save(self, request: SaveRequest) -> None:
        return None

    async def after_save(self, ctx: RequestContext, class_name: str, obj: dict[str, Any],
                         original: dict[str, Any] | None) -> None:
        return None

    async def before_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None:
        return None

    async def after_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None:
        return None

    async def before_find(self, request: FindRequest) -> None:
        return None

    async def after_find(self, ctx: RequestContext, class_name: str,
                         results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return results
