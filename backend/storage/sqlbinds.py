"""A compiled statement's positional parameters, for the direct driver paths (pg_direct, sqlite_direct)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Compiled, Dialect

Processor = Callable[[Any], Any] | None


def positional_binds(compiled: Compiled, dialect: Dialect) -> list[tuple[str, Any, Processor]] | None:
    """Each positional parameter's name, compiled-in value and bind processor, in the order the SQL takes them;
    None if any is computed per call (expanding, post-compile or callable parameters, or a name used twice)."""
    names = compiled.positiontup or []  # type: ignore[attr-defined]
    if compiled.literal_execute_params or compiled.post_compile_params or len(set(names)) != len(names):  # type: ignore[attr-defined]
        return None
    binds: list[tuple[str, Any, Processor]] = []
    for name in names:
        bind = compiled.binds[name]  # type: ignore[attr-defined]
        if bind.callable is not None:
            return None
        binds.append((name, bind.value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    return binds
