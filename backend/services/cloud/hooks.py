"""Webhooks (``/hooks/functions``, ``/hooks/triggers``): cloud functions and triggers served by a URL.

As parse-server's HooksController: ``{functionName, url}`` and ``{className, triggerName, url}``
kept in ``_Hooks`` (internal here: only this service writes it), 143 for every refusal, and
a hook runs where cloud code of that name would, when the app's own code defines none. Every
instance keeps the hooks in memory (the Triggers seam asks synchronously whether a class has a
trigger) and reloads them every ``REFRESH_SECONDS``, so another instance's change applies here
within that time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from backend.cloud import Request, trigger_refusal
from backend.context import RequestContext
from backend.services.cloud.webhooks import WebhookCaller, check_target, webhook_error
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.data.schemas import MASTER_ONLY_CLP
from backend.services.shared.internal import INTERNAL_CLASSES
from backend.services.shared.periodic import Periodic

CLASS = "_Hooks"
KINDS = ("beforeSave", "afterSave", "beforeDelete", "afterDelete")  # the trigger kinds a webhook may serve
REFRESH_SECONDS = 5.0
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")  # a function or class name (cloud code's own rule)
Hook = dict[str, str]
WebhookHandler = Callable[[Request], Awaitable[Any]]
log = logging.getLogger("ballast.hooks")


def request_body(req: Request) -> dict[str, Any]:
    """What the webhook receives: Parse's request fields (never the caller's headers: they carry keys)."""
    body: dict[str, Any] = {"master": req.master, "ip": req.ip, "context": req.context}
    if req.function_name is not None:
        body |= {"functionName": req.function_name, "params": req.params}
    if req.trigger_name is not None:
        body["triggerName"] = req.trigger_name
    for name, value in (("user", req.user), ("installationId", req.installation_id)):
        if value is not None:
            body[name] = value
    for name, value in (("object", req.object), ("original", req.original)):
        if value is not None:
            body[name] = {**value, "className": req.class_name}
    return body


class HookService:
    def __init__(self, objects: ObjectService, caller: WebhookCaller) -> None:
        self.objects = objects
        self.caller = caller
        self.ctx = RequestContext.internal()
        self.functions: dict[str, str] = {}
        self.triggers: dict[tuple[str, str], str] = {}
        self._reload = Periodic(REFRESH_SECONDS, self.refresh, log, "reloading the webhooks")

    # --- lifecycle and the in-memory view -------------------------------------------------

    async def start(self) -> None:
        async with self.objects.db.unit() as unit:
            await self.objects.schemas.ensure_class(unit, CLASS, {"classLevelPermissions": MASTER_ONLY_CLP})
        await self.refresh()
        self._reload.start()

    async def stop(self) -> None:
        await self._reload.stop()

    async def refresh(self) -> None:
        rows = await self._rows({})
        self.functions = {row["functionName"]: row["url"] for row in rows if row.get("functionName")}
        self.triggers = {(row["triggerName"], row["className"]): row["url"]
                         for row in rows if row.get("className") and row.get("triggerName")}

    def function(self, name: str) -> WebhookHandler | None:
        url = self.functions.get(name)
        return None if url is None else self._handler(url)

    def trigger(self, kind: str, class_name: str) -> WebhookHandler | None:
        url = self.triggers.get((kind, class_name))
        return None if url is None else self._handler(url)

    def _handler(self, url: str) -> WebhookHandler:
        async def call(req: Request) -> Any:
            result = await self.caller.call(url, request_body(req))
            if req.trigger_name == "beforeSave" and isinstance(result, dict) and req.object is not None:
                # Parse saves what the webhook answers, less the dates the server keeps; a field it leaves
                # out stays as it was (never deleted)
                req.object.update({k: v for k, v in result.items() if k not in ("createdAt", "updatedAt", "className")})
                return None
            return result

        return call

    # --- CRUD (the /hooks routes) ----------------------------------------------------------

    async def _rows(self, where: dict[str, Any]) -> list[dict[str, Any]]:
        options = FindOptions(where=where, limit=1000, order="createdAt")
        return (await self.objects.find(self.ctx, CLASS, options)).results

    async def find(self, kind: str) -> list[Hook]:
        where = {"functionName": {"$exists": True}} if kind == "functions" else {"className": {"$exists": True}}
        return [_shown(row) for row in await self._rows(where)]

    async def get_function(self, name: str) -> Hook:
        rows = await self._rows({"functionName": name})
        if not rows:
            raise webhook_error(f"no function named: {name} is defined")
        return _shown(rows[0])

    async def get_trigger(self, class_name: str, kind: str) -> Hook:
        rows = await self._rows({"className": class_name, "triggerName": kind})
        if not rows:
            raise webhook_error(f"class {class_name} does not exist")
        return _shown(rows[0])

    async def create(self, body: dict[str, Any]) -> Hook:
        """POST /hooks/functions or /hooks/triggers: 143 when that name (or class and trigger) has one."""
        hook = await self._checked(body)
        where = _key(hook)
        if await self._rows(where):
            if "functionName" in hook:
                raise webhook_error(f"function name: {hook['functionName']} already exists")
            raise webhook_error(f"class {hook['className']} already has trigger {hook['triggerName']}")
        await self.objects.create(self.ctx, CLASS, hook)
        await self.refresh()
        return hook

    async def update(self, hook: dict[str, Any]) -> Hook:
        """PUT with a url: 143 when there is no such hook yet."""
        checked = await self._checked(hook)
        rows = await self._rows(_key(checked))
        if not rows:
            if "functionName" in checked:
                raise webhook_error(f"no function named: {checked['functionName']} is defined")
            raise webhook_error(f"class {checked['className']} does not exist")
        await self.objects.update(self.ctx, CLASS, rows[0]["objectId"], {"url": checked["url"]})
        await self.refresh()
        return checked

    async def delete(self, key: dict[str, str]) -> None:
        for row in await self._rows(key):
            await self.objects.delete(self.ctx, CLASS, row["objectId"])
        await self.refresh()

    async def _checked(self, body: dict[str, Any]) -> Hook:
        url, name, class_name = body.get("url"), body.get("functionName"), body.get("className")
        if isinstance(name, str) and NAME.match(name):
            hook = {"functionName": name}
        elif isinstance(class_name, str) and NAME.match(class_name) and body.get("triggerName") in KINDS:
            if class_name in INTERNAL_CLASSES:  # Ballast's own records (audit, logs, hooks) call out to no one
                raise webhook_error(f"class {class_name} is Ballast's own: it takes no webhook")
            if (refused := trigger_refusal(body["triggerName"], class_name)) is not None:
                raise webhook_error(refused)
            hook = {"className": class_name, "triggerName": body["triggerName"]}
        else:
            raise webhook_error("invalid hook declaration")
        if not isinstance(url, str) or not url:
            raise webhook_error("invalid hook declaration")
        return {**hook, "url": await check_target(url, self.caller.allow_private)}


def _key(hook: Hook) -> dict[str, str]:
    if "functionName" in hook:
        return {"functionName": hook["functionName"]}
    return {"className": hook["className"], "triggerName": hook["triggerName"]}


def _shown(row: dict[str, Any]) -> Hook:
    """A stored hook as Parse answers it: its names and url, no objectId or dates."""
    return {key: row[key] for key in ("functionName", "className", "triggerName", "url") if row.get(key)}
