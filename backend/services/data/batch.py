"""``/batch``: many REST calls in one request, dispatched straight to the services (no HTTP re-entry).

A sub-request is ``{"method", "path", "body"}`` with the path as the client
saw it (``/parse/classes/X``); the mount path is stripped and the rest routed
through a small table. Without ``transaction`` each sub-request runs in its
own unit of work and answers ``{"success": ...}`` or ``{"error": {code, error}}``
in order; with ``transaction: true`` all run in ONE unit, and the first failure
rolls every one back and fails the whole request with that error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend import jsontext
from backend.context import RequestContext
from backend.errors import InvalidJSON, ParseError
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.shared.rate_limits import RequestLimits, named_in
from backend.services.shared.units import Database, Unit

log = logging.getLogger("ballast.batch")

Handler = Callable[[RequestContext, Mapping[str, str], dict[str, Any], Unit | None], Awaitable[Any]]
"""(ctx, path params, body, unit) -> the ``success`` value of one sub-request."""


@dataclass(frozen=True)
class SubRequest:
    method: str
    path: str
    body: dict[str, Any]


class BatchRoutes:
    """The routes a batch may reach: method + path pattern -> handler. Other route groups may add theirs."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` like ``/classes/{className}/{objectId}``; parameters match one path segment."""
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
        self._routes.append((method.upper(), re.compile(f"^{regex}/?$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for route_method, regex, handler in self._routes:
            found = regex.match(path)
            if found and route_method == method:
                return handler, found.groupdict()
        raise InvalidJSON(f"cannot route {method} {path[:200]}")


def find_options_from(body: Mapping[str, Any]) -> FindOptions:
    """A GET sub-request's body (already JSON, or JSON strings as in a query string) -> FindOptions."""

    def value(name: str, default: Any = None) -> Any:
        raw = body.get(name, default)
        if isinstance(raw, str) and name in ("where", "limit", "skip"):
            try:
                return jsontext.parse(raw)
            except jsontext.JSONDecodeError as error:
                raise InvalidJSON(f"{name} is not valid JSON.") from error
        return raw

    count = body.get("count")
    return FindOptions(
        where=value("where"), order=value("order"), limit=value("limit", 100), skip=value("skip", 0),
        keys=value("keys"), exclude_keys=value("excludeKeys"), include=value("include"),
        count=count not in (None, "", 0, "0", False, "false"),
        redirect_class_name_for_key=value("redirectClassNameForKey"),
    )


def class_routes(objects: ObjectService, routes: BatchRoutes | None = None) -> BatchRoutes:
    """The /classes routes every batch knows (added after any in ``routes``, which match first)."""
    routes = routes or BatchRoutes()

    async def create(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await objects.create(ctx, p["className"], body, unit=unit)

    async def update(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await objects.update(ctx, p["className"], p["objectId"], body, unit=unit)

    async def delete(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        await objects.delete(ctx, p["className"], p["objectId"], unit=unit)
        return {}

    async def get(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await objects.get(ctx, p["className"], p["objectId"], keys=body.get("keys"),
                                 include=body.get("include"), exclude_keys=body.get("excludeKeys"), unit=unit)

    async def find(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        found = await objects.find(ctx, p["className"], find_options_from(body), unit=unit)
        answer: dict[str, Any] = {"results": found.results}
        if found.count is not None:
            answer["count"] = found.count
        return answer

    routes.add("POST", "/classes/{className}", create)
    routes.add("GET", "/classes/{className}", find)
    routes.add("GET", "/classes/{className}/{objectId}", get)
    routes.add("PUT", "/classes/{className}/{objectId}", update)
    routes.add("DELETE", "/classes/{className}/{objectId}", delete)
    for prefix, class_name in CLASS_ALIASES.items():  # Parse's batch routes these as their REST routes
        routes.add("POST", prefix, for_class(class_name, create))
        routes.add("GET", prefix, for_class(class_name, find))
        routes.add("GET", prefix + "/{objectId}", for_class(class_name, get))
        routes.add("PUT", prefix + "/{objectId}", for_class(class_name, update))
        routes.add("DELETE", prefix + "/{objectId}", for_class(class_name, delete))
    return routes


CLASS_ALIASES = {"/users": "_User", "/roles": "_Role", "/sessions": "_Session", "/installations": "_Installation"}
"""The REST aliases of /classes/<internal class>; route groups with rules of their own add theirs first."""


def for_class(class_name: str, handler: Handler) -> Handler:
    """``handler`` of a /classes route, with the class fixed (an alias path names no class)."""

    async def call(ctx: RequestContext, p: Mapping[str, str], body: dict[str, Any], unit: Unit | None) -> Any:
        return await handler(ctx, {**p, "className": class_name}, body, unit)

    return call


class BatchService:
    def __init__(self, db: Database, routes: BatchRoutes, limit: int, prefixes: Sequence[str],
                 rate_limits: RequestLimits | None = None) -> None:
        self.db = db
        self.rate_limits = rate_limits
        self.routes = routes
        self.limit = limit
        # longest first, so "/parse/v2" wins over "/parse" when both are mount paths
        self.prefixes = sorted({p.rstrip("/") for p in prefixes}, key=len, reverse=True)

    def parse(self, body: Mapping[str, Any]) -> list[SubRequest]:
        """Check the envelope as parse-server does (107 for every malformed part)."""
        requests = body.get("requests")
        if not isinstance(requests, list):
            raise InvalidJSON("requests must be an array")
        if len(requests) > self.limit:
            raise InvalidJSON(
                f"Batch request contains {len(requests)} sub-requests, which exceeds the limit of {self.limit}."
            )
        parsed = []
        for raw in requests:
            if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
                raise InvalidJSON("batch request path must be a string")
            method = raw.get("method") or "GET"
            if not isinstance(method, str):
                raise InvalidJSON("batch request method must be a string")
            sub_body = raw.get("body") or {}
            if not isinstance(sub_body, dict):
                raise InvalidJSON("batch request body must be a JSON object")
            path = self._routable(raw["path"])
            if method.upper() == "POST" and path.rstrip("/") == "/batch":
                raise InvalidJSON("nested batch requests are not allowed")
            parsed.append(SubRequest(method.upper(), path, sub_body))
        return parsed

    def _routable(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                rest = path[len(prefix):]
                return "/" + "/".join(part for part in rest.split("/") if part not in ("", "."))
        raise InvalidJSON(f"cannot route batch path {path[:200]}")

    async def run(self, ctx: RequestContext, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        requests = self.parse(body)
        for request in requests:  # each sub-request counts as if sent alone; one over a limit refuses the batch
            if self.rate_limits is not None:
                await self.rate_limits.check(ctx, request.method, request.path, named_in(request.body))
        if body.get("transaction") is True:
            return await self._in_one_unit(ctx, requests)
        return [await self._one(ctx, request) for request in requests]

    async def _in_one_unit(self, ctx: RequestContext, requests: list[SubRequest]) -> list[dict[str, Any]]:
        """All or nothing: the first error leaves the unit, which rolls everything back, and is the answer."""
        async with self.db.unit() as unit:
            results = []
            for request in requests:
                handler, params = self.routes.match(request.method, request.path)
                results.append({"success": await handler(ctx, params, request.body, unit)})
        return results

    async def _one(self, ctx: RequestContext, request: SubRequest) -> dict[str, Any]:
        try:
            handler, params = self.routes.match(request.method, request.path)
            return {"success": await handler(ctx, params, request.body, None)}
        except ParseError as error:
            return {"error": {"code": int(error.code), "error": error.message}}
        except Exception:  # one broken sub-request must not hide the answers of the others
            log.exception("batch sub-request %s %s failed", request.method, request.path)
            return {"error": {"code": 1, "error": "Internal server error."}}
