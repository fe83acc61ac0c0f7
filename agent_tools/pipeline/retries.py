"""Retries stay safe through approvals: an Idempotency-Key is bound to (agent, tool, input).

A repeat of a committed write answers as the first did (the audit's replay); a repeat of a write
that waits for approval gets that same approval back, never a second one; the same key with
another tool or input is refused (``idempotency.mismatch``) instead of answering another call's
result. The input is compared in the bounded canonical form the audit stores (its sha256 past the
size the record keeps).
"""

from __future__ import annotations

from typing import Any

from agent_tools.model.blocked import Blocked
from agent_tools.model.bounds import audit_form


def check_same(key: str, tool: str, normalised: Any, first_tool: Any, first_input: Any) -> None:
    """Blocked unless the earlier use of ``key`` was this tool with this input."""
    if first_tool != tool or audit_form(first_input) != audit_form(normalised):
        raise Blocked("idempotency.mismatch", f"Idempotency-Key {key[:64]!r} was already used for another tool or "
                      "input; use a new key for a new call.", status=400, code=137)
