"""The query tree: what a Parse ``where`` means, as plain values (pure).

``backend.services.data.query`` builds it from a client's ``where`` (checking names
and types against the schema) and matches objects against it in memory;
each storage adapter compiles it to SQL. One tree, one semantics for both.
Values in the tree are ``backend.wire`` values (datetime, Pointer, GeoPoint...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from backend.wire import GeoPoint, Pointer, Polygon

if TYPE_CHECKING:  # the schema is only carried here (storage/class_schema.py imports nothing of ours)
    from backend.storage.class_schema import ClassSchema, FieldSpec

FieldPath: TypeAlias = tuple[str, ...]
"""A top-level field, then keys into an Object field: ``a.b.c`` -> ``("a", "b", "c")``."""

CompareOp: TypeAlias = Literal["eq", "ne", "lt", "lte", "gt", "gte"]


@dataclass(frozen=True, slots=True)
class Field:
    """Where a value lives: a path and the schema type of its top-level field."""

    path: FieldPath
    type: str  # Parse schema type of path[0]; nested paths are JSON inside an Object

    @property
    def nested(self) -> bool:
        return len(self.path) > 1


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: CompareOp
    value: Any


@dataclass(frozen=True, slots=True)
class In:
    field: Field
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    field: Field
    exists: bool


@dataclass(frozen=True, slots=True)
class ContainsAll:
    """``$all``: the array holds every value."""

    field: Field
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ContainedBy:
    """``$containedBy``: every element of the array is one of the values."""

    field: Field
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Regex:
    field: Field
    pattern: str
    ignore_case: bool = False
    multiline: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    """``$text.$search``: every term occurs as a word (case-insensitive unless asked)."""

    field: Field
    terms: tuple[str, ...]
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class SubQuery:
    class_name: str
    where: Node
    schema: ClassSchema | None = None  # None: no such class, so the sub-query finds nothing

    @property
    def exists(self) -> bool:
        return self.schema is not None


@dataclass(frozen=True, slots=True)
class InQuery:
    """``$inQuery``/``$notInQuery``: a Pointer field points into the sub-query's results."""

    field: Field
    query: SubQuery
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Select:
    """``$select``/``$dontSelect``: the field's value is among ``key`` of the sub-query's results."""

    field: Field
    query: SubQuery
    key: Field
    negate: bool = False


@dataclass(frozen=True, slots=True)
class RelatedTo:
    """``$relatedTo``: objects in ``owner``'s relation field ``key``."""

    owner: Pointer
    key: str


@dataclass(frozen=True, slots=True)
class ReadableBy:
    """The object's ACL lets one of ``names`` read it (no ACL: anyone); a second reader's ACL filter."""

    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Near:
    """``$nearSphere`` (also orders by distance); distances in radians."""

    field: Field
    point: GeoPoint
    max_distance: float | None = None


@dataclass(frozen=True, slots=True)
class WithinBox:
    field: Field
    south_west: GeoPoint
    north_east: GeoPoint


@dataclass(frozen=True, slots=True)
class WithinPolygon:
    field: Field
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class WithinSphere:
    field: Field
    center: GeoPoint
    radius: float


@dataclass(frozen=True, slots=True)
class Intersects:
    """``$geoIntersects``: a Polygon field contains the point."""

    field: Field
    point: GeoPoint


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Nor:
    children: tuple[Node, ...]


Node: TypeAlias = (
    Compare | In | Exists | ContainsAll | ContainedBy | Regex | Text | InQuery | Select | RelatedTo | ReadableBy
    | Near | WithinBox | WithinPolygon | WithinSphere | Intersects | And | Or | Nor
)

MATCH_ALL = And(())
MATCH_NONE = Or(())


@dataclass(frozen=True, slots=True)
class Order:
    field: Field
    descending: bool = False


class RowShape(Protocol):
    """What a find's caller makes of each row, handed to storage so a row is shaped in the pass that decodes it
    (one dict per row instead of a Row and then the caller's object). Storage asks once per class layout and set
    of columns; see ``sqltables.shaped_decoder``."""

    def shown(self, name: str) -> bool:
        """Whether the column ``name`` goes into the object at all."""

    def converter(self, name: str, spec: FieldSpec) -> Callable[[Any], Any] | None:
        """What turns the column's (non-null) wire value into the object's value; None: the value as it is."""

    def finisher(self, schema: ClassSchema) -> Callable[[dict[str, Any], Any, Any], None]:
        """What completes an object from the row's ``_rperm`` and ``_wperm`` once its columns are in."""


@dataclass(frozen=True, slots=True)
class FindSpec:
    """A whole find: filter, order, paging and the top-level columns to return."""

    where: Node = MATCH_ALL
    order: tuple[Order, ...] = ()
    limit: int | None = 100
    skip: int = 0
    columns: tuple[str, ...] | None = None  # None: every column
    read_names: frozenset[str] | None = None  # ACL filter: None for master
    shape: RowShape | None = None  # None: the rows as Rows; else each as the shape makes it


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A grouped count: rows matching ``where`` counted per distinct value of ``fields`` (top-level columns).

    ``edges``: cut points of ``bucket`` (a column, usually a date) in ascending order; a row's bucket is how
    many edges are at or below its value (0 .. len(edges)), computed in SQL with the same comparisons a range
    filter makes, so each bucket counts exactly what a ``$gte``/``$lt`` count of it would.
    """

    where: Node = MATCH_ALL
    fields: tuple[str, ...] = ()
    bucket: str | None = None
    edges: tuple[Any, ...] = ()
    read_names: frozenset[str] | None = None  # ACL filter: None for master
