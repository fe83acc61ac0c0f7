"""How much work one ``where`` may ask for: checked once, before any of it is parsed (pure).

Every face (REST, batch, tunnelled ``_method`` POSTs, agent tools, LiveQuery
subscriptions, cloud code) reaches a query through ``query.parse_where``, which
calls ``check_where_size`` first. The walk is iterative and stops at the first
excess, so a hostile clause costs at most ``MAX_WHERE_NODES`` steps to refuse.
Parse Server answers a malformed query with INVALID_QUERY (102); so do we.
"""

from __future__ import annotations

from typing import Any

from backend.errors import InvalidQuery

MAX_LIST_VALUES = 10_000  # $in, $nin, $all, $containedBy, $or, $and, $nor (and any other JSON array)
MAX_CLAUSES = 1_000  # $or / $and / $nor clauses in one list
MAX_JSON_DEPTH = 64  # nesting of JSON objects and arrays inside one where, sub-queries included
MAX_WHERE_NODES = 100_000  # JSON values in the whole where, sub-queries included
LOGICAL = frozenset({"$or", "$and", "$nor"})


def check_where_size(where: object) -> None:
    """InvalidQuery when the where is too large, too deep, or holds a list that is too long."""
    pending: list[tuple[Any, int]] = [(where, 0)]
    seen = 0
    while pending:
        value, depth = pending.pop()
        seen += 1
        if seen > MAX_WHERE_NODES:
            raise InvalidQuery(f"The query is too large: at most {MAX_WHERE_NODES} values in a where.")
        if depth > MAX_JSON_DEPTH:
            raise InvalidQuery(f"The query is nested too deeply: at most {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                if key in LOGICAL and isinstance(item, list) and len(item) > MAX_CLAUSES:
                    raise InvalidQuery(f"{key} has too many clauses: at most {MAX_CLAUSES}.")
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            if len(value) > MAX_LIST_VALUES:
                raise InvalidQuery(f"A list in the query is too long: at most {MAX_LIST_VALUES} values.")
            pending.extend((item, depth + 1) for item in value)
