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
from backend.querytree import And, Compare, Field, FindSpec, In, Node
from backend.services.data.objects import ID_ALPHABET
from backend.services.data.schemas import SchemaService
from backend.services.shared.units import Unit
from backend.storage.protocols import Row

_SPACE = len(ID_ALPHABET) ** 10
_OBJECT_ID = Field(("objectId",), "String")


def fresh_id() -> str:
    """A 10-character object id from ONE random draw (not one system call per character)."""
    number, chars = secrets.randbelow(_SPACE), []
    for _ in range(10):
        number, digit = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[digit])
    return "".join(chars)


class Appender:
    """Insert, lock, update and read rows of existing system classes in the caller's unit (no savepoint: a
    failure ends the unit, which is what an audit append wants)."""

    def __init__(self, schemas: SchemaService) -> None:
        self.schemas = schemas

    async def insert(self, unit: Unit, class_name: str, values: dict[str, Any]) -> str:
        """Insert one row (no ACL: the class's CLP admits the master key only); answers its objectId."""
        return (await self.insert_many(unit, class_name, [values]))[0]

    async def insert_many(self, unit: Unit, class_name: str, rows: list[dict[str, Any]]) -> list[str]:
        """Insert rows with one statement, which also carries the unit's updates held by ``set_later``."""
        schema = await self.schemas.require(unit, class_name)
        now = wire.now()
        made: list[Row] = [{"objectId": fresh_id(), "createdAt": now, "updatedAt": now} | values for values in rows]
        await unit.session.insert_many(schema, made, unit.take_later())
        return [str(row["objectId"]) for row in made]

    async def lock(self, unit: Unit, class_name: str, object_id: str) -> Row | None:
        """The row, locked until the unit ends (PostgreSQL ``FOR UPDATE``; SQLite's writer lock)."""
        schema = await self.schemas.require(unit, class_name)
        await unit.flush(class_name)
        return await unit.session.fetch_for_update(schema, object_id)

    async def set_later(self, unit: Unit, class_name: str, object_id: str, values: dict[str, Any]) -> None:
        """Update a row known to exist: sent with the unit's next insert here (one statement on PostgreSQL),
        before this Appender next reads the class in the unit, or when the unit commits."""
        schema = await self.schemas.require(unit, class_name)
        unit.update_later(schema, object_id, values | {"updatedAt": wire.now()})

    async def fetch(self, unit: Unit, class_name: str, object_id: str) -> Row | None:
        """The row by id as stored (no lock; the prebuilt by-id statement), read in ``unit``."""
        schema = await self.schemas.require(unit, class_name)
        await unit.flush(class_name)
        found = await unit.session.find(schema, FindSpec(where=Compare(_OBJECT_ID, "eq", object_id), limit=1))
        return found[0] if found else None

    async def fetch_many(self, unit: Unit, class_name: str, object_ids: list[str]) -> list[Row]:
        """The rows with these ids that exist, as stored (one id: the prebuilt by-id statement)."""
        if len(object_ids) == 1:
            found = await self.fetch(unit, class_name, object_ids[0])
            return [found] if found is not None else []
        return await self.find(unit, class_name, {}, among=("objectId", object_ids)) if object_ids else []

    async def find(self, unit: Unit, class_name: str, equal: dict[str, str], *,
                   among: tuple[str, list[str]] | None = None, limit: int = 1000) -> list[Row]:
        """Rows whose String fields equal ``equal`` (and whose ``among[0]`` is one of ``among[1]``), as stored."""
        schema = await self.schemas.require(unit, class_name)
        nodes: list[Node] = [Compare(Field((name,), schema.fields[name].type), "eq", value)
                             for name, value in equal.items()]
        if among is not None:
            name, values = among
            nodes.append(In(Field((name,), schema.fields[name].type), tuple(values)))
        await unit.flush(class_name)
        return await unit.session.find(schema, FindSpec(where=And(tuple(nodes)), limit=limit))
