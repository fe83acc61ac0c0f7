"""Which objects a subscription's query selects: one shared matcher per distinct (class, where).

The tree comes from ``services.query.parse_where`` and is evaluated with
``services.query.matches``: the same semantics as the SQL engines. A tree is
compiled against the class schema and recompiled when an event carries a
schema whose fields differ (a field added on another instance, say).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from backend import querytree as q
from backend.errors import InvalidQuery, ParseError
from backend.services.data.query import SchemaLookup, matches, parse_where
from backend.storage.protocols import ClassSchema, FieldSpec, Row

log = logging.getLogger("ballast.realtime")

# evaluated in memory only; sub-queries would need the database for every event
_UNSUPPORTED = (q.InQuery, q.Select, q.RelatedTo)


def canonical_key(class_name: str, where: Mapping[str, Any]) -> str:
    """Identical queries share one matcher: the key ignores the order of keys in ``where``."""
    return class_name + ":" + orjson.dumps(where, option=orjson.OPT_SORT_KEYS).decode()


def check_supported(node: q.Node) -> None:
    """Refuse operators that cannot be evaluated against one object in memory."""
    if isinstance(node, _UNSUPPORTED):
        raise InvalidQuery(f"{type(node).__name__} is not supported in LiveQuery subscriptions.")
    if isinstance(node, q.And | q.Or | q.Nor):
        for child in node.children:
            check_supported(child)


class Matcher:
    """A compiled ``where`` for one class, shared by every subscription that states it."""

    def __init__(self, class_name: str, where: Mapping[str, Any], schema: ClassSchema, lookup: SchemaLookup) -> None:
        self.class_name = class_name
        self.where = dict(where)
        self.key = canonical_key(class_name, where)
        self._lookup = lookup
        self._fields: Mapping[str, FieldSpec] = schema.fields
        self._tree: q.Node | None = parse_where(self.where, schema, lookup)
        check_supported(self._tree)

    def tree_for(self, schema: ClassSchema) -> q.Node | None:
        """The tree for this schema (None when the where no longer fits the class)."""
        if schema.fields is not self._fields and schema.fields != self._fields:
            self._fields = schema.fields
            try:
                self._tree = parse_where(self.where, schema, self._lookup)
            except ParseError as error:
                log.info("live query %s no longer fits its class: %s", self.key[:200], error)
                self._tree = None
        return self._tree

    def matches(self, row: Row | None, schema: ClassSchema) -> bool:
        if row is None:
            return False
        tree = self.tree_for(schema)
        if tree is None:
            return False
        try:
            return matches(row, tree)
        except ParseError as error:  # an object the tree cannot judge is not selected
            log.debug("live query %s could not judge an object: %s", self.key[:200], error)
            return False
