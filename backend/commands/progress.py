"""Progress on stderr for CLI work that can take more than a moment (rich).

Drawn only when stderr is a terminal and removed when done, so piped output (``audit export > file``)
and scripts reading stderr see nothing of it. Nested uses share the one live display (rich allows
one): the inner one changes its description and counter until it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

err = Console(stderr=True)
_live: list[tuple[Progress, TaskID]] = []  # the display in use, if any


@contextmanager
def progress(description: str, unit: str = "") -> Iterator[Callable[[int], None]]:
    """A spinner with ``description`` and elapsed time; the yielded ``advance(n)`` counts ``unit`` done."""
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        bar.update(task, done=f"{done:,} {unit}")

    if _live:
        bar, task = _live[-1]
        previous = bar.tasks[0].description
        bar.update(task, description=description, done="")
        try:
            yield advance
        finally:
            bar.update(task, description=previous, done="")
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[done]}"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(description, total=None, done="")
        _live.append((bar, task))
        try:
            yield advance
        finally:
            _live.pop()
