"""Tool input bounded at the edge, and the bounded form of it the audit stores (pure).

Every call leaves exactly one audit record, whatever its input: so the input is measured
without recursion (a few hundred levels of nesting must not break the record that refuses
them), refused past the limits (rule ``input.too_complex``), and stored as itself only when
small; otherwise as its sha256 plus a truncated copy of its canonical text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from agent_tools.model.registry import ALWAYS_REDACTED

MAX_DEPTH = 32  # nesting of objects and arrays (a where with $and/$or/$inQuery stays far below)
MAX_ITEMS = 10_000  # keys and array elements, all levels together
MAX_SIZE = 512 * 1024  # approximate bytes of the text it came as
STORED = 16 * 1024  # canonical text kept in the record as the input itself
HEAD = 2048  # of a longer input: this much of its text, next to the hash of all of it
SMALL = 256  # of a call that failed authentication: an anonymous caller's input costs almost nothing
MAX_LABEL = 128  # a run id or idempotency key: the caller's name for something, stored in every record of it
LABEL = re.compile(rf"[\x21-\x7e]{{1,{MAX_LABEL}}}")  # visible ASCII


@dataclass(frozen=True)
class Measure:
    depth: int
    items: int
    size: int

    def problem(self) -> str | None:
        if self.depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if self.items > MAX_ITEMS:
            return f"more than {MAX_ITEMS} keys and array items"
        if self.size > MAX_SIZE:
            return f"larger than {MAX_SIZE} bytes"
        return None


def measure(value: Any) -> Measure:
    """Depth, count of keys/items and approximate size, iteratively; it stops counting once past a limit."""
    depth = items = size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            depth = max(depth, level)
            items += len(node)
            size += 2 + len(node)
            children = node.values() if isinstance(node, dict) else node
            if isinstance(node, dict):
                size += sum(len(str(key)) + 3 for key in node)
            stack.extend((child, level + 1) for child in children)
        else:
            size += len(node) + 2 if isinstance(node, str) else 8
        if depth > MAX_DEPTH or items > MAX_ITEMS or size > MAX_SIZE:
            break
    return Measure(depth, items, size)


def edge_problem(value: Any) -> str | None:
    """Why this input is refused before anything looks at it (None: within bounds)."""
    return measure(value).problem()


def label_problem(run_id: str | None, idempotency_key: str | None) -> str | None:
    """What is wrong with a caller-chosen run id or idempotency key (they are stored, echoed and indexed)."""
    for header, value in (("X-Ballast-Run-Id", run_id), ("Idempotency-Key", idempotency_key)):
        if value is not None and not LABEL.fullmatch(value):
            return f"{header} must be 1 to {MAX_LABEL} visible ASCII characters"
    return None


def audit_form(value: Any, keep: int = STORED) -> Any:
    """What the record stores for ``value`` (secret-named fields redacted): itself if small, else
    {sha256, head, bytes} of its canonical text. Never fails, whatever the value's depth or size."""
    text = None
    if measure(value).problem() is None:
        value = scrub(value)
        # not JSON as orjson knows it (an integer past 64 bits from the MCP face's parser): kept as its
        # canonical text below, where such a number is its decimal string
        with contextlib.suppress(TypeError):
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
        if text is not None and len(text) <= keep:
            return value
    if text is None:
        text = canonical_text(value)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {"$bounded": True, "sha256": digest, "bytes": len(text.encode()), "head": text[:min(keep, HEAD)]}


def scrub(value: Any) -> Any:
    """No secret-named fields, at any depth (rule 8); recursive, so only for values within bounds."""
    if isinstance(value, dict):
        return {key: ("[redacted]" if key in ALWAYS_REDACTED else scrub(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def canonical_text(value: Any) -> str:
    """Sorted-key compact JSON of any JSON-like value, secret-named fields redacted, built without recursion."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, dict):
            parts: list[Any] = [_Text("{")]
            for index, key in enumerate(sorted(node, key=str)):
                shown = _Text('"[redacted]"') if key in ALWAYS_REDACTED else node[key]
                parts += [_Text(("," if index else "") + _scalar(str(key)) + ":"), shown]
            stack.extend(reversed([*parts, _Text("}")]))
        elif isinstance(node, list):
            parts = [_Text("[")]
            for index, item in enumerate(node):
                parts += [_Text(",")] if index else []
                parts.append(item)
            stack.extend(reversed([*parts, _Text("]")]))
        else:
            out.append(_scalar(node))
    return "".join(out)


@dataclass(frozen=True)
class _Text:
    text: str


def _scalar(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers past 64 bits, anything else: its text
        return orjson.dumps(str(value)).decode()
