"""``include``: replace pointers in results with the objects they point to.

Each level of a path is fetched with one query per class, through
ObjectService, so the reader's ACL/CLP apply to included objects too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from backend.context import RequestContext
from backend.errors import InvalidQuery
from backend.services.data.render import project, render
from backend.services.shared.units import Unit
from backend.storage.protocols import ClassSchema

if TYPE_CHECKING:
    from backend.services.data.render import FileUrl
    from backend.storage.protocols import Row


class Fetcher(Protocol):
    """What include needs of ObjectService (objects.py, which calls this module): readable rows by id."""

    file_url: FileUrl

    async def fetch_many(self, unit: Unit, ctx: RequestContext, class_name: str,
                         object_ids: list[str]) -> tuple[ClassSchema | None, list[Row]]: ...

MAX_INCLUDE_DEPTH = 8


def include_paths(include: object, schema: ClassSchema) -> list[list[str]]:
    """``a.b,c`` -> [["a"], ["a", "b"], ["c"]]; ``*`` means every Pointer and Array field (as Parse)."""
    if include is None or include == "":
        return []
    if not isinstance(include, str):
        raise InvalidQuery("include must be a comma-separated string.")
    paths: set[tuple[str, ...]] = set()
    for part in include.split(","):
        part = part.strip()
        if part == "*":
            paths.update((name,) for name, spec in schema.fields.items() if spec.type in ("Pointer", "Array"))
        elif part:
            segments = part.split(".")
            if len(segments) > MAX_INCLUDE_DEPTH:
                raise InvalidQuery("include paths may be at most 8 levels deep.")
            paths.update(tuple(segments[:depth]) for depth in range(1, len(segments) + 1))
    return [list(path) for path in sorted(paths, key=len)]


class Includer:
    def __init__(self, objects: Fetcher, unit: Unit, ctx: RequestContext) -> None:
        self.objects = objects
        self.unit = unit
        self.ctx = ctx

    async def resolve(
        self, schema: ClassSchema, results: list[dict[str, Any]], include: object, keys: list[str] | None
    ) -> None:
        for path in include_paths(include, schema):
            await self._level(results, path, keys)

    async def _level(self, results: list[dict[str, Any]], path: list[str], keys: list[str] | None) -> None:
        slots: list[tuple[dict[str, Any] | list[Any], str | int, dict[str, Any]]] = []
        for obj in results:
            _collect(obj, path, slots)
        wanted: dict[str, set[str]] = {}
        for _, _, pointer in slots:
            wanted.setdefault(pointer["className"], set()).add(pointer["objectId"])
        found: dict[tuple[str, str], dict[str, Any]] = {}
        sub_keys = _sub_keys(keys, path)
        for class_name, ids in wanted.items():
            schema, rows = await self.objects.fetch_many(self.unit, self.ctx, class_name, sorted(ids))
            for row in rows:
                assert schema is not None
                rendered = render(schema, row, self.objects.file_url)
                if sub_keys is not None:
                    rendered = project(rendered, sub_keys, None)
                found[(class_name, row["objectId"])] = {"__type": "Object", "className": class_name, **rendered}
        for container, slot, pointer in slots:
            replacement = found.get((pointer["className"], pointer["objectId"]))
            if replacement is not None:
                container[slot] = replacement  # type: ignore[index]


def _collect(value: Any, path: list[str], slots: list[Any]) -> None:
    """Find the pointers at ``path`` (through arrays and already-included objects)."""
    if not isinstance(value, dict):
        return
    key, rest = path[0], path[1:]
    target = value.get(key)
    items = list(enumerate(target)) if isinstance(target, list) else [(key, target)]
    container: Any = target if isinstance(target, list) else value
    for slot, item in items:
        if not isinstance(item, dict):
            continue
        if not rest:
            if item.get("__type") == "Pointer":
                slots.append((container, slot, item))
        else:
            _collect(item, rest, slots)


def _sub_keys(keys: list[str] | None, path: list[str]) -> list[str] | None:
    if keys is None:
        return None
    prefix = ".".join(path) + "."
    narrowed = [key[len(prefix):] for key in keys if key.startswith(prefix)]
    return narrowed or None
