"""The benchmark's table: each operation x each server, with the Ballast / Parse Server ratios."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from benchmarks.load import Summary

Results = dict[str, dict[str, Summary]]  # op -> target name -> medians


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def ratios(
    results: Results, op: str, name: str, reference: str = "parse"
) -> tuple[float, float, float, float] | None:
    """(throughput, p50, p99, CPU per request) of ``name`` over ``reference``; >1, <1, <1, <1 is better."""
    row = results.get(op, {})
    if name not in row or reference not in row:
        return None
    ours, theirs = row[name], row[reference]
    return (_ratio(ours.rps, theirs.rps), _ratio(ours.p50, theirs.p50), _ratio(ours.p99, theirs.p99),
            _ratio(ours.cpu_per_request, theirs.cpu_per_request))


def _cell(s: Summary, sep: str) -> str:
    return sep.join((f"{s.rps:,.0f}", f"{s.p50:.1f}", f"{s.p99:.1f}", f"{s.cpu_per_request:.2f}"))


def _ratio_cell(r: tuple[float, float, float, float] | None, sep: str) -> str:
    return sep.join((f"{r[0]:.2f}x", f"{r[1]:.2f}", f"{r[2]:.2f}", f"{r[3]:.2f}")) if r else "-"


BASELINES = ("parse", "bare")  # the columns of ratios: over Parse Server, and over the bare endpoint


def _columns(labels: dict[str, str]) -> list[tuple[str, str]]:
    """(server, baseline) of each ratio column: every Ballast target over Parse, every server over bare."""
    pairs = [(name, _parse_for(name, labels)) for name in labels if not name.startswith(BASELINES)]
    pairs = [(name, base) for name, base in pairs if base in labels]
    return pairs + [(name, "bare") for name in labels if name != "bare" and "bare" in labels]


def _parse_for(name: str, labels: dict[str, str]) -> str:
    """The Parse Server a Ballast target compares with: the cluster of as many processes, if measured."""
    count = name.rsplit("-x", 1)[1] if "-x" in name else None
    return f"parse-x{count}" if count and f"parse-x{count}" in labels else "parse"


def rich_table(results: Results, labels: dict[str, str]) -> Table:
    table = Table(title="CRUD benchmark (medians)", show_lines=True)
    table.add_column("operation")
    for label in labels.values():
        table.add_column(f"{label}\nreq/s · p50 · p99 (ms) · CPU ms/req", justify="right")
    pairs = _columns(labels)
    for name, base in pairs:
        table.add_column(f"{labels[name]} / {labels[base]}\nthroughput · p50 · p99 · CPU", justify="right")
    for op, row in results.items():
        cells = [_cell(s, " · ") + (f" ({s.errors} err)" if s.errors else "") if (s := row.get(name)) else "-"
                 for name in labels]
        cells += [_ratio_cell(ratios(results, op, name, base), " · ") for name, base in pairs]
        table.add_row(op, *cells)
    return table


def markdown(results: Results, labels: dict[str, str]) -> str:
    """The same table as Markdown, for an issue note."""
    head = ["operation"] + [f"{label}: req/s, p50, p99 (ms), CPU ms/req" for label in labels.values()]
    pairs = _columns(labels)
    head += [f"{labels[name]} / {labels[base]}: throughput, p50, p99, CPU" for name, base in pairs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op, row in results.items():
        cells = [op] + [_cell(s, ", ") if (s := row.get(name)) else "-" for name in labels]
        cells += [_ratio_cell(ratios(results, op, name, base), ", ") for name, base in pairs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def as_json(results: Results, raw: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, Any]:
    return {
        "medians": {op: {name: vars(s) for name, s in row.items()} for op, row in results.items()},
        "runs": raw,
    }
