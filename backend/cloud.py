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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.errors import ParseCode, ParseError, error_for_code

Handler = Callable[..., Any]
FILE_CLASS = "@File"  # Parse's class name for file triggers
CONNECT_CLASS = "@Connect"  # and for LiveQuery's beforeConnect

TRIGGER_KINDS = (
    "beforeSave", "afterSave", "beforeDelete", "afterDelete", "beforeFind", "afterFind",
    "beforeLogin", "afterLogin", "afterLogout", "beforePasswordResetRequest",
    "beforeSaveFile", "afterSaveFile", "beforeDeleteFile", "afterDeleteFile",
    "beforeConnect", "beforeSubscribe", "afterLiveQueryEvent",
)


def trigger_refusal(kind: str, class_name: str) -> str | None:
    """Why a trigger of this kind may not sit on this class (Parse's pairing rules), or None when it may.

    Sessions change only through log-in and log-out, so only ``afterLogout`` watches them; the log-in
    hooks belong to ``_User`` and ``afterLogout`` to ``_Session``. Cloud code and webhooks both ask here.
    """
    if class_name == "_Session" and kind != "afterLogout":
        return "only the afterLogout trigger may be set on the _Session class"
    if kind == "afterLogout" and class_name != "_Session":
        return "the afterLogout trigger may be set only on the _Session class"
    if kind in ("beforeLogin", "afterLogin") and class_name != "_User":
        return f"the {kind} trigger may be set only on the _User class"
    return None


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
class Rules:
    """Parse's ``validator`` option for a trigger: who may cause it, and what the object's fields must be."""

    require_user: bool = False
    require_master: bool = False
    fields: dict[str, Any] | list[str] = field(default_factory=dict)
    validate_master_key: bool = False  # Parse skips validation for the master key unless asked


class Error(ParseError):
    """``raise cloud.Error(cloud.VALIDATION_ERROR, "review too short")``: the client sees that code and message."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or "Cloud code failed.")
        self.code = int(code)  # type: ignore[misc,assignment]  # an instance may carry any app-defined code


@dataclass
class Query:
    """What a beforeFind trigger may change: ``where`` (a Parse where dict) and ``limit``/``skip``/``order``."""

    class_name: str
    where: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def equal_to(self, key: str, value: Any) -> Query:
        """Narrow the query to objects whose ``key`` equals ``value`` (as Parse.Query.equalTo)."""
        if key in self.where:
            self.where = {"$and": [self.where, {key: value}]}
        else:
            self.where[key] = value
        return self

    def limit(self, count: int) -> Query:
        self.options["limit"] = count
        return self


@dataclass
class Request:
    """What a cloud function or trigger receives (Parse's ``request``).

    ``db`` reads and writes as the caller (its ACLs apply); ``master_db`` is the
    explicit escalation that Parse spells ``useMasterKey: true``.
    """

    params: dict[str, Any] = field(default_factory=dict)
    user: dict[str, Any] | None = None
    master: bool = False
    installation_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ip: str | None = None
    object: dict[str, Any] | None = None
    original: dict[str, Any] | None = None
    objects: list[dict[str, Any]] | None = None  # afterFind results
    query: Query | None = None  # beforeFind
    is_get: bool = False  # beforeFind of a get by id (Parse's request.isGet)
    file: dict[str, Any] | None = None  # file triggers: name, contentType, size, url
    context: dict[str, Any] = field(default_factory=dict)
    function_name: str | None = None
    trigger_name: str | None = None
    class_name: str | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("ballast.cloud"))
    db: Any = None
    master_db: Any = None


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
    rules: dict[tuple[str, str], Rules] = field(default_factory=dict)  # validators of triggers

    def clear(self) -> None:
        self.functions.clear()
        self.triggers.clear()
        self.jobs.clear()
        self.rules.clear()


class Cloud:
    """The decorators cloud code uses; ``Error`` and the codes mirror Parse.Error."""

    Error = Error
    Request = Request
    VALIDATION_ERROR = ParseCode.VALIDATION_ERROR
    SCRIPT_FAILED = ParseCode.SCRIPT_FAILED
    OBJECT_NOT_FOUND = ParseCode.OBJECT_NOT_FOUND
    INVALID_QUERY = ParseCode.INVALID_QUERY
    INVALID_JSON = ParseCode.INVALID_JSON
    OPERATION_FORBIDDEN = ParseCode.OPERATION_FORBIDDEN
    FILE_SAVE_ERROR = ParseCode.FILE_SAVE_ERROR
    DUPLICATE_VALUE = ParseCode.DUPLICATE_VALUE
    TIMEOUT = ParseCode.TIMEOUT
    INTERNAL_SERVER_ERROR = ParseCode.INTERNAL_SERVER_ERROR

    def __init__(self) -> None:
        self.registry = Registry()

    @staticmethod
    def error(code: int, message: str) -> ParseError:
        """``raise cloud.error(cloud.VALIDATION_ERROR, "...")``: reaches the client as that Parse error."""
        return error_for_code(int(code), message)

    def define(self, name: str, *, require_user: bool = False, require_master: bool = False,
               fields: dict[str, Any] | list[str] | None = None, agent_callable: bool = False,
               risk: str = "low") -> Callable[[Handler], Handler]:
        """A cloud function, called by ``POST /parse/functions/<name>`` (``Parse.Cloud.run``).

        ``fields`` is Parse's validator: ``["a", "b"]`` (required) or ``{"a": {"type": int, "required": True,
        "options": [1, 2], "default": 1, "error": "..."}}``, checked against ``req.params``.
        """
        if risk not in ("low", "medium", "high"):
            raise ValueError(f"risk must be low, medium or high, not {risk!r}")
        spec_fields = {key: {"required": True} for key in fields} if isinstance(fields, list) else dict(fields or {})

        def register(handler: Handler) -> Handler:
            self.registry.functions[name] = FunctionSpec(
                name, handler, require_user, require_master, spec_fields, agent_callable, risk
            )
            return handler

        return register

    def job(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.registry.jobs[name] = JobSpec(name, handler)
            return handler

        return register

    def trigger(self, kind: str, class_name: str, rules: Rules | None = None) -> Callable[[Handler], Handler]:
        if kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {kind!r}; one of {', '.join(TRIGGER_KINDS)}")
        if (refused := trigger_refusal(kind, class_name)) is not None:
            raise ValueError(refused)

        def register(handler: Handler) -> Handler:
            self.registry.triggers[(kind, class_name)] = handler
            if rules is not None:
                self.registry.rules[(kind, class_name)] = rules
            else:
                self.registry.rules.pop((kind, class_name), None)
            return handler

        return register

    def before_save(self, class_name: str, *, require_user: bool = False, require_master: bool = False,
                    fields: dict[str, Any] | list[str] | None = None) -> Callable[[Handler], Handler]:
        """Change or veto a write before it happens (runs before the transaction commits)."""
        return self.trigger("beforeSave", class_name, _rules(require_user, require_master, fields))

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

    # identity hooks: the users service calls them through services.cloud.CloudService
    def before_login(self) -> Callable[[Handler], Handler]:
        return self.trigger("beforeLogin", "_User")

    def after_login(self) -> Callable[[Handler], Handler]:
        return self.trigger("afterLogin", "_User")

    def after_logout(self) -> Callable[[Handler], Handler]:
        return self.trigger("afterLogout", "_Session")

    def before_password_reset_request(self) -> Callable[[Handler], Handler]:
        return self.trigger("beforePasswordResetRequest", "_User")

    # files
    def before_save_file(self) -> Callable[[Handler], Handler]:
        """May rename (``req.file["name"]``) or veto an upload before any byte is stored."""
        return self.trigger("beforeSaveFile", FILE_CLASS)

    def after_save_file(self) -> Callable[[Handler], Handler]:
        return self.trigger("afterSaveFile", FILE_CLASS)

    def before_delete_file(self) -> Callable[[Handler], Handler]:
        return self.trigger("beforeDeleteFile", FILE_CLASS)

    def after_delete_file(self) -> Callable[[Handler], Handler]:
        return self.trigger("afterDeleteFile", FILE_CLASS)

    # LiveQuery (run by the realtime hub)
    def before_connect(self) -> Callable[[Handler], Handler]:
        return self.trigger("beforeConnect", CONNECT_CLASS)

    def before_subscribe(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("beforeSubscribe", class_name)

    def after_live_query_event(self, class_name: str) -> Callable[[Handler], Handler]:
        return self.trigger("afterLiveQueryEvent", class_name)


def _rules(require_user: bool, require_master: bool, fields: dict[str, Any] | list[str] | None) -> Rules | None:
    if not (require_user or require_master or fields):
        return None
    return Rules(require_user, require_master, fields if fields is not None else {})


cloud = Cloud()
"""The process-wide registry cloud code decorates into."""
