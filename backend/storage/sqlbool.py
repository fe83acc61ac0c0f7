"""AND / OR over many terms as a balanced tree, so no query is too deep for the engine.

SQLite refuses an expression more than 1,000 levels deep ("Expression tree is too
large"), and a flat ``a OR b OR ...`` of N terms is N levels deep to its parser.
SQLAlchemy flattens nested ``or_`` calls, so each half is grouped explicitly: the
depth becomes about 2·log2(N) whatever the list size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

Expr = ColumnElement[Any]
FLAT = 64  # up to this many terms stay one flat list (the SQL reads as before)


def any_of(terms: Sequence[Expr]) -> Expr:
    """OR of the terms; false when there are none."""
    return _balanced(sa.or_, sa.false(), list(terms))


def all_of(terms: Sequence[Expr]) -> Expr:
    """AND of the terms; true when there are none."""
    return _balanced(sa.and_, sa.true(), list(terms))


def _balanced(join: Callable[..., Expr], empty: Expr, terms: list[Expr]) -> Expr:
    if len(terms) <= FLAT:
        return join(empty, *terms)
    middle = len(terms) // 2
    halves = (_balanced(join, empty, terms[:middle]), _balanced(join, empty, terms[middle:]))
    # type_coerce(...).self_group() keeps the parentheses that a nested or_/and_ would lose
    return join(*(sa.type_coerce(half, sa.Boolean()).self_group() for half in halves))
