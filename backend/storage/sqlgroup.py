"""Grouped counts in SQL: ``SELECT fields, bucket, COUNT(*) ... GROUP BY``, one statement, either engine.

The bucket of a row is a ``CASE`` over the edges (``col < e1 -> 0, col < e2 -> 1, ...``): plain comparisons
of the indexed column with bound values of its own type, so it means the same on SQLite (naive text) and
PostgreSQL (timestamptz), and agrees to the row with a range count of each bucket.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.querytree import GroupSpec
from backend.storage.sqlquery import Compiler

Group = tuple[tuple[Any, ...], int]  # the group's values (fields, then the bucket's number) and its count


def group_statement(compiler: Compiler, spec: GroupSpec, acl: Any) -> sa.Select[Any]:
    """The grouped count of ``spec`` (its where and ``acl``, the read names' filter, both applied)."""
    keys: list[Any] = [_column(compiler, name) for name in spec.fields]
    if spec.bucket is not None:
        column = _column(compiler, spec.bucket)
        whens = [(column < edge, n) for n, edge in enumerate(spec.edges)]
        keys.append(sa.case(*whens, else_=len(spec.edges)) if whens else sa.literal(0))
    labelled = [key.label(f"g{n}") for n, key in enumerate(keys)]
    statement = sa.select(*labelled, sa.func.count().label("n")).select_from(compiler.table)
    statement = statement.where(compiler.compile(spec.where), acl)
    return statement.group_by(*[sa.literal_column(f"g{n}") for n in range(len(keys))]) if keys else statement


def groups_from(rows: Any, width: int) -> list[Group]:
    return [(tuple(row[:width]), int(row[width])) for row in rows]


def _column(compiler: Compiler, name: str) -> Any:
    """A top-level column; a field the table lacks (never written) groups as null, as a find reads it."""
    return compiler.table.c[name] if name in compiler.table.c else sa.null()
