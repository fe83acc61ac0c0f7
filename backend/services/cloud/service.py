"""CloudService: runs what an app's cloud code registered (functions, object, file and identity triggers).

It implements the ``Triggers`` seam ObjectService calls and the ``FileHooks``
seam FileService calls. Errors follow Parse: ``cloud.Error(code, msg)``
reaches the client as that error; any other exception becomes 141 with a safe
message (the traceback goes to the server log only); a handler running longer
than ``timeout`` seconds is answered 124. after* triggers never fail a request.

Identity hooks for the users service: ``before_login``, ``after_login``,
``after_logout``, ``before_password_reset_request`` (see their docstrings).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from pathlib import Path
from typing import Any

from backend import wire
from backend.cloud import FILE_CLASS, Handler, Query, Registry, Request, cloud
from backend.context import RequestContext
from backend.errors import ParseCode, ParseError, ScriptFailed, error_for_code
from backend.services.cloud.data import CloudData
from backend.services.cloud.hooks import HookService
from backend.services.cloud.loader import load_cloud_code
from backend.services.cloud.rules import check_caller, check_fields
from backend.services.data.objects import ObjectService
from backend.services.files.service import FileEvent
from backend.services.shared.triggers import FindRequest, SaveRequest

log = logging.getLogger("ballast.cloud")
RESERVED = frozenset({"objectId", "createdAt", "updatedAt", "className", "__type"})
FIND_OPTIONS = frozenset({"limit", "skip", "order", "keys", "include", "exclude_keys"})


class CloudService:
    def __init__(self, folder: Path | None, timeout: float, reload: bool = False,
                 registry: Registry | None = None) -> None:
        self.folder = folder
        self.timeout = timeout
        self.reload = reload
        self.registry = registry or cloud.registry
        self.objects: ObjectService | None = None
        self.hooks: HookService | None = None  # webhooks, set by the wiring
        self._watcher: asyncio.Task[None] | None = None

    def bind(self, objects: ObjectService) -> None:
        """Give cloud code its data path (ObjectService is built with this service as its triggers)."""
        self.objects = objects

    async def start(self) -> None:
        self.registry = load_cloud_code(self.folder)
        if self.reload and self.folder is not None:
            from backend.services.cloud.reload import watch

            self._watcher = asyncio.create_task(watch(self.folder, self._reloaded))

    def _reloaded(self) -> None:
        self.registry = load_cloud_code(self.folder)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    # --- running a handler ------------------------------------------------------------

    async def invoke(self, handler: Handler, req: Request, what: str) -> Any:
        """Run one handler (sync ones in a thread) under the timeout, errors mapped as Parse maps them."""
        try:
            if inspect.iscoroutinefunction(handler):
                result = await asyncio.wait_for(handler(req), self.timeout)
            else:
                result = await asyncio.wait_for(asyncio.to_thread(handler, req), self.timeout)
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, self.timeout)
        except ParseError:
            raise
        except TimeoutError:
            log.warning("%s timed out after %ss", what, self.timeout)
            raise error_for_code(int(ParseCode.TIMEOUT), f"{what} timed out.") from None
        except Exception:
            log.exception("%s raised", what)
            raise ScriptFailed(f"{what} failed.") from None
        return result

    async def request(self, ctx: RequestContext, **fields: Any) -> Request:
        """A Request for ``ctx``: the caller's user, master flag, data access bound to it."""
        req = Request(master=ctx.principal.is_master, installation_id=ctx.installation_id, ip=ctx.ip,
                      context=ctx.cloud_context, **fields)  # shared: before* may pass values to after*
        if self.objects is not None:
            req.db = CloudData(self.objects, ctx)
            req.master_db = CloudData(self.objects, RequestContext.system())
            req.user = await self._user(ctx)
        return req

    async def _user(self, ctx: RequestContext) -> dict[str, Any] | None:
        user_id = ctx.principal.user_id
        if user_id is None or self.objects is None:
            return None
        try:
            user = await self.objects.get(RequestContext.system(), "_User", user_id)
        except ParseError:
            user = {"objectId": user_id}
        return {**user, "className": "_User"}

    # --- functions --------------------------------------------------------------------

    async def run_function(self, ctx: RequestContext, name: str, params: dict[str, Any],
                           headers: dict[str, str] | None = None) -> Any:
        """``Parse.Cloud.run``: the function's result as Parse JSON."""
        spec = self.registry.functions.get(name)
        if spec is None:
            return await self._run_webhook(ctx, name, params)
        req = await self.request(ctx, params=dict(params), headers=dict(headers or {}), function_name=name)
        if not req.master or spec.require_master:
            check_caller(has_user=req.user is not None, is_master=req.master,
                         require_user=spec.require_user, require_master=spec.require_master)
            check_fields(req.params, spec.fields)
        result = await self.invoke(spec.handler, req, f"Cloud function {name}")
        try:
            return wire.encode(result)
        except TypeError:
            log.exception("cloud function %s returned a value that is not JSON", name)
            raise ScriptFailed(f"Cloud function {name} returned a value that cannot be sent.") from None

    async def _run_webhook(self, ctx: RequestContext, name: str, params: dict[str, Any]) -> Any:
        """A function no cloud code defines may be a webhook (/hooks/functions)."""
        handler = self.hooks.function(name) if self.hooks is not None else None
        if handler is None:
            raise ScriptFailed(f'Invalid function: "{name}"')
        req = await self.request(ctx, params=dict(params), function_name=name)
        return await self.invoke(handler, req, f"Webhook function {name}")

    # --- the Triggers seam (ObjectService) --------------------------------------------------

    def handles(self, kind: str, class_name: str) -> bool:
        if (kind, class_name) in self.registry.triggers:
            return True
        return self.hooks is not None and (kind, class_name) in self.hooks.triggers

    async def _trigger(self, kind: str, class_name: str, req: Request, original: dict[str, Any] | None = None) -> Any:
        handler = self.registry.triggers.get((kind, class_name))
        if handler is None and self.hooks is not None:  # the app's own code first, then a webhook
            handler = self.hooks.trigger(kind, class_name)
        if handler is None:
            return None
        req.trigger_name, req.class_name = kind, class_name
        rules = self.registry.rules.get((kind, class_name))
        if rules is not None and (not req.master or rules.validate_master_key):
            check_caller(has_user=req.user is not None, is_master=req.master,
                         require_user=rules.require_user, require_master=rules.require_master)
            if req.object is not None:
                check_fields(req.object, rules.fields, original)
        return await self.invoke(handler, req, f"{kind} trigger on {class_name}")

    async def _after(self, kind: str, class_name: str, req: Request) -> None:
        try:
            await self._trigger(kind, class_name, req)
        except ParseError as error:  # after* triggers cannot fail the request that already happened
            log.warning("%s trigger on %s failed: %s", kind, class_name, error.message)

    async def before_save(self, request: SaveRequest) -> None:
        original = dict(request.original) if request.original is not None else None
        obj = {**(original or {}), **request.data}
        if request.object_id:
            obj["objectId"] = request.object_id
        req = await self.request(request.ctx, object=obj, original=original)
        await self._trigger("beforeSave", request.class_name, req, original)
        request.data = _changes(req.object or {}, request.data, original)

    async def after_save(self, ctx: RequestContext, class_name: str, obj: dict[str, Any],
                         original: dict[str, Any] | None) -> None:
        await self._after("afterSave", class_name, await self.request(ctx, object=obj, original=original))

    async def before_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None:
        await self._trigger("beforeDelete", class_name, await self.request(ctx, object=obj))

    async def after_delete(self, ctx: RequestContext, class_name: str, obj: dict[str, Any]) -> None:
        await self._after("afterDelete", class_name, await self.request(ctx, object=obj))

    async def before_find(self, request: FindRequest) -> None:
        where = request.where if isinstance(request.where, dict) else {}
        query = Query(request.class_name, dict(where))
        req = await self.request(request.ctx, query=query, is_get=request.is_get)
        await self._trigger("beforeFind", request.class_name, req)
        request.where = query.where
        request.options.update({key: value for key, value in query.options.items() if key in FIND_OPTIONS})

    async def after_find(self, ctx: RequestContext, class_name: str,
                         results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        req = await self.request(ctx, objects=results)
        returned = await self._trigger("afterFind", class_name, req)
        return returned if isinstance(returned, list) else (req.objects or [])

    # --- the FileHooks seam (FileService) ------------------------------------------------

    async def run_file_trigger(self, kind: str, event: FileEvent) -> None:
        file = {"name": event.name, "contentType": event.content_type, "size": event.size, "url": event.url}
        req = await self.request(event.ctx, file=file)
        if kind.startswith("after"):
            await self._after(kind, FILE_CLASS, req)
            return
        await self._trigger(kind, FILE_CLASS, req)
        renamed = file.get("name")
        if isinstance(renamed, str) and renamed != event.name:
            event.name = renamed

    # --- identity hooks: called by the users service ----------------------------------------

    async def before_login(self, ctx: RequestContext, user: dict[str, Any]) -> None:
        """Before a session is created for ``user`` (Parse JSON); raising vetoes the login."""
        await self._trigger("beforeLogin", "_User", await self.request(ctx, object=dict(user)))

    async def after_login(self, ctx: RequestContext, user: dict[str, Any]) -> None:
        """After a login succeeded; errors are logged, never sent."""
        await self._after("afterLogin", "_User", await self.request(ctx, object=dict(user)))

    async def after_logout(self, ctx: RequestContext, session: dict[str, Any]) -> None:
        """After a session was destroyed (``session`` as Parse JSON); errors are logged, never sent."""
        await self._after("afterLogout", "_Session", await self.request(ctx, object=dict(session)))

    async def before_password_reset_request(self, ctx: RequestContext, user: dict[str, Any]) -> None:
        """Before a reset mail goes to ``user``; raising refuses the request."""
        await self._trigger("beforePasswordResetRequest", "_User", await self.request(ctx, object=dict(user)))


def _changes(obj: dict[str, Any], data: dict[str, Any], original: dict[str, Any] | None) -> dict[str, Any]:
    """The write after a beforeSave: what the client sent, plus what the trigger set or removed."""
    changed: dict[str, Any] = {}
    for key, value in obj.items():
        if key in RESERVED:
            continue
        if key in data or original is None or original.get(key) != value:
            changed[key] = value
    for key in (original or {}):
        if key not in obj and key not in RESERVED:
            changed[key] = {"__op": "Delete"}
    return changed

