"""Orphaned files: stored files that no object references (found through ObjectService, as master).

Every class with a File, Array or Object field is read page by page and every
``{"__type": "File"}`` value found (at any depth) counts as a reference. The
scan reads without cloud triggers: a beforeFind that narrows queries must not
hide references, or their files would look orphaned.
"""

from __future__ import annotations

import copy
from typing import Any

from backend.context import RequestContext
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.files.service import FileService
from backend.services.shared.triggers import NoTriggers

PAGE = 1000
HOLDERS = frozenset({"File", "Array", "Object"})


async def referenced_files(objects: ObjectService) -> set[str]:
    """Names of every file some object points at."""
    plain = copy.copy(objects)
    plain.triggers = NoTriggers()
    ctx = RequestContext.system()
    names: set[str] = set()
    for schema in plain.schemas.all_cached():
        fields = sorted(name for name, spec in schema.fields.items() if spec.type in HOLDERS)
        if not fields:
            continue
        skip = 0
        while True:
            options = FindOptions(keys=",".join(fields), limit=PAGE, skip=skip, order="objectId")
            page = (await plain.find(ctx, schema.class_name, options)).results
            for obj in page:
                _collect(obj, names)
            if len(page) < PAGE:
                break
            skip += PAGE
    return names


def _collect(value: Any, names: set[str]) -> None:
    if isinstance(value, dict):
        if value.get("__type") == "File" and isinstance(value.get("name"), str):
            names.add(value["name"])
            return
        for item in value.values():
            _collect(item, names)
    elif isinstance(value, list):
        for item in value:
            _collect(item, names)


async def find_orphans(files: FileService, objects: ObjectService) -> list[str]:
    """Stored files no object references, in name order."""
    referenced = await referenced_files(objects)
    return sorted([name async for name in files.adapter.names() if name not in referenced])


async def delete_orphans(files: FileService, objects: ObjectService) -> list[str]:
    """Delete the orphans (no file triggers: this is housekeeping, not a client's delete); returns their names."""
    orphans = await find_orphans(files, objects)
    for name in orphans:
        await files.adapter.delete(name)
    return orphans
