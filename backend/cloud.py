"""The cloud code SDK that ``cloud_functions/`` imports: functions, triggers and jobs.

    from backend.cloud import cloud

    @cloud.define("averageStars", require_user=True)
    async def average_stars(req): ...

    @cloud.before_save("Review")
    async def check_review(req): ...

    @cloud.job("nightlyDigest")
    async def nightly_digest(req): ...

Decorators only register; importing an app's modules has no other effect.
The server reads ``cloud.registry`` to run them (``services.cloud`` for
functions and triggers, ``jobs`` for jobs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.errors import ParseCode, ParseError, error_for_code

Handler = Callable[..., Any]

TRIGGER_KINDS = (
    "beforeSave", "afterSave", "beforeDelete", "afterDelete", "beforeFind", "afterFind",
    "beforeLogin", "afterLogin", "afterLogout", "beforePasswordResetRequest",
    "beforeSaveFile", "afterSaveFile", "beforeDeleteFile", "afterDeleteFile",
    "beforeConnect", "beforeSubscribe", "afterLiveQueryEvent",
)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: Handler
    require_user: bool = False
    require_master: bool = False
    fields: dict[str, Any] = field(default_factory=dict)  # Parse's validator "fields" option
    agent_callable: bool = False
    risk: str = "low"


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler


@dataclass
class Registry:
    """Everything an app's cloud code registered."""

    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    triggers: dict[tuple[str, str], Handler] = field(default_factory=dict)  # (kind, className)
    jobs: dict[str, JobSpec] = field(default_factory=dict)

    def clear(self) -> None:
        self.functions.clear()
        self.triggers.clear()
        self.jobs.clear()


class Cloud:
    """The decorators cloud code uses; ``Error`` and the codes mirror Parse.Error."""

    Error = ParseError
    VALIDATION_ERROR = ParseCode.VALIDATION_ERROR
    SCRIPT_FAILED = ParseCode.SCRIPT_FAILED
    OBJECT_NOT_FOUND = ParseCode.OBJECT_NOT_FOUND
    INVALID_QUERY = ParseCode.INVALID_QUERY
    OPERATION_FORBIDDEN = ParseCode.OPERATION_FORBIDDEN

    def __init__(self) -> None:
        self.registry = Registry()

    @staticmethod
    def error(code: int, message: str) -> ParseError:
        """``raise cloud.error(cloud.VALIDATION_ERROR, "...")``: reaches the client as that Parse error."""
        return error_for_code(int(code), message)

    def define(self, name: str, *, require_user: bool = False, require_master: bool = False,
               fields: dict[str, Any] | None = None, agent_callable: bool = False,
               risk: str = "low") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.registry.functions[name] = FunctionSpec(
                name, handler, require_user, require_master, dict(fields or {}), agent_callable, risk
            )
            return handler

        return register

    def job(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.registry.jobs[name] = JobSpec(name, handler)
            return handler

        return register

    def trigger(self, kind: str, class_name: str) -> Callable[[Handler], Handler]:
        if kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {kind!r}; one of {', '.join(TRIGGER_KINDS)}")

        def register(handler: Handler) -> Handler:
            self.registry.triggers[(kind, class_name)] = handler
            return handler

        return register

    def before_save(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("beforeSave", class_name)

    def after_save(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("afterSave", class_name)

    def before_delete(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("beforeDelete", class_name)

    def after_delete(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("afterDelete", class_name)

    def before_find(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("beforeFind", class_name)

    def after_find(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("afterFind", class_name)


cloud = Cloud()
"""The process-wide registry cloud code decorates into."""
