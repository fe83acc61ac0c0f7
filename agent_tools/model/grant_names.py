"""Grant names: what an agent's grant may say, checked wherever grants are set (CLI, admin API, console).

A grant names one registered tool (built-in or the app's own), a kind (``read:*``, ``write:*``) or every
tool (``*``): exactly what ``policy.granted`` matches. Anything else would grant nothing, silently, so
``AgentStore`` refuses it with the bad names, a near miss when there is one, and where to see the valid ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from agent_tools.model.registry import ToolRegistry
from backend.errors import InvalidValue

WILDCARDS = ("*", "read:*", "write:*")
WHERE_LISTED = "`ballast agents tools` or GET /agent/v1/admin/tools lists them"
SHOWN = 5  # bad grants named in one answer (the rest are counted)


def checked_grants(grants: Iterable[str], registry: ToolRegistry) -> list[str]:
    """The grants, sorted and without repeats; InvalidValue (400) naming every one that grants nothing."""
    wanted = sorted(set(grants))
    known = set(WILDCARDS) | {tool.name for tool in registry}
    unknown = [grant for grant in wanted if grant not in known]
    if unknown:
        raise InvalidValue(_refusal(unknown, known))
    return wanted


def _refusal(unknown: list[str], known: set[str]) -> str:
    named = ", ".join(_named(grant, known) for grant in unknown[:SHOWN])
    more = f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""
    noun = "grant" if len(unknown) == 1 else "grants"
    return (f"Unknown {noun} {named}{more}. A grant is a tool's name, read:*, write:* or *; "
            f"{WHERE_LISTED}.")


def _named(grant: str, known: set[str]) -> str:
    shown = repr(grant[:64] + ("…" if len(grant) > 64 else ""))
    near = difflib.get_close_matches(grant[:64], sorted(known), n=1, cutoff=0.6)
    return f"{shown} (did you mean {near[0]}?)" if near else shown


def grantable(registry: ToolRegistry) -> dict[str, object]:
    """What a grant may name: the wildcards and every registered tool (the admin API and the CLI show it)."""
    tools = [{"name": tool.name, "kind": tool.kind, "risk": tool.risk, "roles": sorted(tool.roles),
              "description": tool.description} for tool in registry]
    return {"wildcards": list(WILDCARDS), "tools": tools}
