"""Units of work: one transaction plus what must happen only once it commits.

Schema cache updates and change events are queued on the unit and run after
the commit, so a rolled-back request leaves no trace anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from backend.storage.protocols import ClassSchema, Row, Session, Store

log = logging.getLogger("ballast.units")

Effect = Callable[[], Awaitable[None] | None]


@dataclass
class Unit:
    session: Session
    read_only: bool
    # a caller that hands this unit to a service may catch a failed write and go on in the unit, so the
    # service guards each write with a SAVEPOINT on PostgreSQL; False: any failure ends the unit (no guard)
    resumable: bool = True
    effects: list[Effect] = field(default_factory=list)
    undo: list[Callable[[], None]] = field(default_factory=list)
    later: list[tuple[ClassSchema, str, Row]] = field(default_factory=list)  # see update_later

    def update_later(self, schema: ClassSchema, object_id: str, values: Row) -> None:
        """An update by key of a row known to exist, sent with the unit's next ``Session.insert_many`` (in the
        same statement where the engine can), or by ``flush`` (the unit flushes before it commits). Updates of
        one row merge (the later value of a column wins): one statement may not update a row twice."""
        for index, (held, held_id, held_values) in enumerate(self.later):
            if held.class_name == schema.class_name and held_id == object_id:
                self.later[index] = (schema, object_id, held_values | values)
                return
        self.later.append((schema, object_id, values))

    def take_later(self) -> list[tuple[ClassSchema, str, Row]]:
        later, self.later = self.later, []
        return later

    async def flush(self, class_name: str | None = None) -> None:
        """Send the updates held for later, before a read of them (``class_name``: only if one is of that class)."""
        if class_name is not None and all(schema.class_name != class_name for schema, _, _ in self.later):
            return
        for schema, object_id, values in self.take_later():
            await self.session.update(schema, object_id, values, savepoint=False)

    def after_commit(self, effect: Effect) -> None:
        self.effects.append(effect)

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Undo in-memory state (caches) the transaction changed, should it roll back."""
        self.undo.append(undo)


class Database:
    """Opens units of work on a store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # run as each new unit opens, before the caller's first statement (the schema cache's freshness check)
        self.on_open: list[Callable[[Unit], Awaitable[None]]] = []

    @asynccontextmanager
    async def unit(
        self, existing: Unit | None = None, *, read_only: bool = False, single_write: bool = False,
        resumable: bool = True,
    ) -> AsyncIterator[Unit]:
        """A new unit, or ``existing`` when the caller already holds one (batch transactions).

        ``single_write``: the unit makes at most one write, which commits on its own (see
        Store.transaction); a second write raises TransactionRequired before it runs.
        ``resumable=False``: the caller never goes on after a failed write (see ``Unit.resumable``).
        """
        if existing is not None:
            yield existing
            return
        unit: Unit | None = None
        try:
            async with self.store.transaction(read_only=read_only, single_write=single_write) as session:
                unit = Unit(session, read_only, resumable)
                for opened in self.on_open:
                    await opened(unit)
                yield unit
                await unit.flush()
        except BaseException:
            for undo in unit.undo if unit else ():
                undo()
            raise
        for effect in unit.effects:
            try:
                result = effect()
                if result is not None:
                    await result
            except Exception:  # an after-commit effect must never fail the committed request
                log.exception("after-commit effect failed")
