"""Unique indexes on Parse fields, and telling which one a duplicate broke (both engines).

Parse keeps usernames and emails unique case-insensitively (parse-server's
``ensureUniqueness`` with a case-insensitive index); an index, not a
read-then-write check, is what holds under concurrent sign-ups.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

UNIQUE_MARK = "_unique_"


def unique_index_name(class_name: str, field: str) -> str:
    return f"{class_name}{UNIQUE_MARK}{field}"[:63]


async def create_unique_index(conn: AsyncConnection, class_name: str, field: str, case_insensitive: bool) -> None:
    """CREATE UNIQUE INDEX IF NOT EXISTS on the column (on lower(column) when case-insensitive)."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    column = quote(field)
    expression = f"lower({column})" if case_insensitive else column
    index = quote(unique_index_name(class_name, field))
    await conn.exec_driver_sql(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {quote(class_name)} ({expression})")


def duplicate_field(error: IntegrityError, class_name: str) -> str | None:
    """The field whose unique index ``error`` broke, when the engine names the index."""
    text = str(error.orig)
    marker = f"{class_name}{UNIQUE_MARK}"
    start = text.find(marker)
    if start < 0:
        return None
    rest = text[start + len(marker):]
    name = "".join(ch for ch in rest[:64] if ch.isalnum() or ch == "_")
    return name or None


def reachable_statement(
    table: sa.Table, seed_join: sa.Table, walk_join: sa.Table, related_id: str
) -> sa.Select[tuple[object, ...]]:
    """Rows of ``table`` reachable from ``related_id``: first the objects whose ``seed`` relation
    holds it, then, repeatedly, the objects whose ``walk`` relation holds one already reached.

    For roles: ``seed`` is ``users`` and ``walk`` is ``roles`` (a role's ``roles`` relation
    lists the roles whose members inherit it). UNION (not UNION ALL) ends cycles.
    """
    seed = sa.select(seed_join.c.owningId.label("id")).where(seed_join.c.relatedId == related_id)
    reached = seed.cte("reached", recursive=True)
    step = sa.select(walk_join.c.owningId).join(reached, walk_join.c.relatedId == reached.c.id)
    reached = reached.union(step)
    return sa.select(table).where(table.c.objectId.in_(sa.select(reached.c.id)))
