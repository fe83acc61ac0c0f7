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


def expanded_binds(compiled: Compiled, dialect: Dialect) -> tuple[str, list[tuple[str, Any, Processor]]] | None:
    """The SQL and parameters of a statement whose only per-call expansion is of lists known when it was
    built (``IN`` over a reader's role names: the statement is cached per set of names), each list value
    bound as one parameter (processed once, here); None if a list or any value is given per call."""
    if compiled.literal_execute_params or any(  # type: ignore[attr-defined]
        bind.required or bind.callable is not None for bind in compiled.post_compile_params  # type: ignore[attr-defined]
    ):
        return None
    given = {name: None for bind, name in compiled.bind_names.items() if bind.required}  # type: ignore[attr-defined]
    state = compiled.construct_expanded_state(given)  # type: ignore[attr-defined]
    if len(set(state.positiontup)) != len(state.positiontup):
        return None
    binds: list[tuple[str, Any, Processor]] = []
    for name in state.positiontup:
        bind = compiled.binds.get(name)  # type: ignore[attr-defined]
        if bind is None:  # one element of an expanded list: its value is fixed, processed now
            process, value = state.processors.get(name), state.parameters[name]
            binds.append((name, process(value) if process is not None else value, None))
        elif bind.callable is not None:
            return None
        else:
            binds.append((name, bind.value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    return state.statement, binds
