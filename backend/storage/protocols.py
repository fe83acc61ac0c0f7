"""The storage seam: what ObjectService needs from a database, and nothing more.

Adapters know Parse field types and rows; they know nothing of users, ACL
rules, triggers or HTTP. A row is a dict of field name -> ``backend.wire``
value, plus ``objectId``, ``createdAt``, ``updatedAt``, ``_rperm``, ``_wperm``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias

from backend.querytree import FindSpec, GroupSpec, Node
from backend.storage.class_schema import DEFAULT_FIELDS as DEFAULT_FIELDS
from backend.storage.class_schema import FIELD_TYPES as FIELD_TYPES
from backend.storage.class_schema import ID_INDEX as ID_INDEX
from backend.storage.class_schema import ClassSchema as ClassSchema
from backend.storage.class_schema import FieldSpec as FieldSpec

Row: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An idempotent request's first answer, kept to replay it."""

    status: int
    body: bytes
    expires_at: datetime


class TransactionRequired(Exception):
    """A single-write session was asked for more than one write: redo the work in a transaction."""


class Session(Protocol):
    """One database transaction."""

    async def load_schemas(self) -> list[ClassSchema]: ...

    async def load_schema(self, class_name: str) -> ClassSchema | None:
        """One class's stored schema, read fresh (not from any cache)."""

    async def lock_class(self, class_name: str) -> None:
        """Hold the class's schema lock until the transaction ends (serialises schema changes)."""

    async def save_schema(self, schema: ClassSchema, previous: ClassSchema | None) -> None:
        """Store the schema and bring the table in line (create it, add or drop columns, indexes)."""

    async def drop_class(self, class_name: str) -> None: ...

    async def insert(self, schema: ClassSchema, row: Row, *, savepoint: bool = True) -> None:
        """Add a row. ``savepoint=False``: the caller's unit ends on any failure, so no SAVEPOINT is needed
        to keep the transaction usable after a unique violation (two round trips less on PostgreSQL)."""

    async def insert_many(self, schema: ClassSchema, rows: list[Row],
                          updates: list[tuple[ClassSchema, str, Row]] | None = None) -> None:
        """Add rows in one statement (a column a row lacks is NULL); like ``insert`` with ``savepoint=False``.

        ``updates``: (schema, objectId, values) of rows to update by key first; where the engine can, in the
        same statement (PostgreSQL: data-modifying CTEs), so the whole write is one round trip.
        """

    async def fetch_for_update(self, schema: ClassSchema, object_id: str) -> Row | None:
        """The row, locked until the transaction ends."""

    async def update(self, schema: ClassSchema, object_id: str, values: Row, *, savepoint: bool = True) -> None:
        """Change a row's columns; ``savepoint`` as for ``insert``."""

    async def delete(self, schema: ClassSchema, object_id: str) -> None: ...

    async def find(self, schema: ClassSchema, spec: FindSpec) -> list[Row]: ...

    async def count(self, schema: ClassSchema, where: Node, read_names: frozenset[str] | None) -> int: ...

    async def count_by(self, schema: ClassSchema, spec: GroupSpec) -> list[tuple[tuple[Any, ...], int]]:
        """Matching rows counted per group (``GroupSpec``): each group's values, then its count; no order."""

    async def add_relations(self, schema: ClassSchema, key: str, owning_id: str, related: list[str]) -> None: ...

    async def remove_relations(self, schema: ClassSchema, key: str, owning_id: str, related: list[str]) -> None: ...

    async def purge(self, schema: ClassSchema) -> None: ...

    async def ensure_unique_folded(self, class_name: str, field: str) -> None:
        """A case-insensitive unique index on the field (on its lower-cased value), as Parse keeps
        usernames and emails; a later insert or update that breaks it raises DuplicateValue with
        ``field`` set."""

    async def find_reachable(self, schema: ClassSchema, seed_key: str, walk_key: str, related_id: str) -> list[Row]:
        """In ONE query: objects whose ``seed_key`` relation holds ``related_id``, then objects whose
        ``walk_key`` relation holds one already found, to a fixed point (cycles end)."""

    async def ensure_unique(self, schema: ClassSchema, fields: tuple[str, ...]) -> None:
        """A unique index over ``fields`` (idempotent); a later duplicate insert/update raises DuplicateValue.

        Rows where any of the fields is null never collide (SQL semantics on both engines).
        """

    async def get_config(self) -> tuple[dict[str, Any], dict[str, bool]]: ...

    async def put_config(self, params: dict[str, Any], master_key_only: dict[str, bool]) -> None: ...

    async def get_response(self, key: str, now: datetime) -> StoredResponse | None: ...

    async def put_response(self, key: str, response: StoredResponse) -> None: ...


class Store(Protocol):
    """A database: opens transactions."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the database cannot be reached (readiness): one trivial statement."""

    def pool_stats(self) -> dict[str, dict[str, int]]:
        """Connections per pool (``size``, ``checked_out``, ``overflow``), for /metrics."""

    def schema_stamp(self) -> object:
        """A value that changes once any instance on this database committed a schema change (class, field,
        CLP, protected fields): cheap enough (no round trip) to compare before every unit of work."""
        ...

    def transaction(
        self, *, read_only: bool = False, single_write: bool = False
    ) -> AbstractAsyncContextManager[Session]:
        """A transaction; a read-only one cannot write, whatever the caller does.

        ``single_write``: no BEGIN and COMMIT around it (two of a create's three round trips); its one
        write commits on its own. A second write, or a schema change, raises TransactionRequired before
        it runs, so the caller redoes its work in a real transaction.
        """
