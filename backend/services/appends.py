"""Append-only system rows (audit trails), without ObjectService's per-object machinery.

An audit record is written on every agent tool call; through ObjectService.create it paid for CLP checks,
field inference, triggers, change events and a SAVEPOINT that none of these master-only, trigger-less,
append-only system rows use. ``Appender`` writes them with the same storage calls ObjectService makes
(``Session.insert`` / ``fetch_for_update`` / ``update``, implemented by both engines) inside the caller's unit,
so a record still commits or rolls back with that unit. Use it only for classes whose every field exists
beforehand (the class owner creates them at start) and that no app code hooks.
"""

from __future__ import annotations

import secrets
from typing import Any

from backend import wire
from backend.services.objects import ID_ALPHABET
from backend.services.schemas import SchemaService
from backend.services.units import Unit
from backend.storage.protocols import Row

_SPACE = len(ID_ALPHABET) ** 10


def fresh_id() -> str:
    """A 10-character object id from ONE random draw (not one system call per character)."""
    number, chars = secrets.randbelow(_SPACE), []
    for _ in range(10):
        number, digit = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[digit])
    return "".join(chars)


class Appender:
    """Insert, lock and set rows of existing system classes in the caller's unit (no savepoint: a failure
    ends the unit, which is what an audit append wants)."""

    def __init__(self, schemas: SchemaService) -> None:
        self.schemas = schemas

    async def insert(self, unit: Unit, class_name: str, values: dict[str, Any]) -> str:
        """Insert one row (no ACL: the class's CLP admits the master key only); answers its objectId."""
        schema = await self.schemas.require(unit, class_name)
        now = wire.now()
        row: Row = {"objectId": fresh_id(), "createdAt": now, "updatedAt": now} | values
        await unit.session.insert(schema, row, savepoint=False)
        return str(row["objectId"])

    async def lock(self, unit: Unit, class_name: str, object_id: str) -> Row | None:
        """The row, locked until the unit ends (PostgreSQL ``FOR UPDATE``; SQLite's writer lock)."""
        schema = await self.schemas.require(unit, class_name)
        return await unit.session.fetch_for_update(schema, object_id)

    async def set(self, unit: Unit, class_name: str, object_id: str, values: dict[str, Any]) -> None:
        schema = await self.schemas.require(unit, class_name)
        await unit.session.update(schema, object_id, values | {"updatedAt": wire.now()}, savepoint=False)
