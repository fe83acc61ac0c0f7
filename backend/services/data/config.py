"""Parse Config (``/parse/config``): app-wide parameters, some readable by the master key only."""

from __future__ import annotations

from typing import Any

from backend import wire
from backend.context import RequestContext
from backend.errors import InvalidJSON, MasterKeyRequired, OperationForbidden
from backend.services.shared.units import Database


class ConfigService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def read(self, ctx: RequestContext) -> dict[str, Any]:
        async with self.db.unit(read_only=True) as unit:
            params, master_only = await unit.session.get_config()
        if ctx.principal.is_master:
            return {"params": params, "masterKeyOnly": master_only}
        return {"params": {key: value for key, value in params.items() if not master_only.get(key)}}

    async def write(self, ctx: RequestContext, body: dict[str, Any]) -> None:
        """Merge ``params`` ({"__op": "Delete"} removes a key) and ``masterKeyOnly`` flags."""
        if not ctx.principal.is_master:
            raise MasterKeyRequired()
        if ctx.principal.is_read_only:
            raise OperationForbidden("read-only masterKey isn't allowed to update the config.")
        updates, flags = body.get("params", {}), body.get("masterKeyOnly", {})
        if not isinstance(updates, dict) or not isinstance(flags, dict):
            raise InvalidJSON("params and masterKeyOnly must be objects.")
        if not all(isinstance(flag, bool) for flag in flags.values()):
            raise InvalidJSON("masterKeyOnly values must be true or false.")
        for value in updates.values():
            wire.decode(value)  # refuse malformed Parse types before anything is stored
        async with self.db.unit() as unit:
            params, master_only = await unit.session.get_config()
            for key, value in updates.items():
                if isinstance(value, dict) and value.get("__op") == "Delete":
                    params.pop(key, None)
                    master_only.pop(key, None)
                else:
                    params[key] = value
            # as parse-server: every param written gets its flag, false unless given
            master_only.update({key: bool(flags.get(key, False)) for key in updates if key in params})
            master_only.update({key: flag for key, flag in flags.items() if key in params})
            await unit.session.put_config(params, master_only)
