"""Upgrading the audit's indexed copies: records of an earlier release lack the copies added since.

A record stores its canonical body (what its hash covers) and, for filtering, copies of some of its fields
(``INDEXED``); ``verify`` holds every copy equal to the hashed body, so a changed copy shows as tampering. A
release that adds a copy (``rule``) leaves the records written before it without one. Rather than a verify
that accepts a missing copy (which would let anyone blank a copy, hiding a record from filtered queries and
the console's counts, unseen), each chain's records are filled once from their own hashed bodies, and verify
stays strict. Which copies a chain's records carry is kept on its head (``copies``); the head's row lock is
held while its chain is filled, so two instances starting together fill it once and appends wait for it.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent_tools.stores.audit import INDEXED, PAGE, SPAN, AuditLog
from agent_tools.stores.classes import AUDIT_HEAD, TOOL_CALL
from backend.services.shared.units import Unit

COPIES = ",".join(INDEXED)  # what a head says when its chain's records carry every copy of this release


async def fill_copies(audit: AuditLog) -> int:
    """Give every record the indexed copies its hashed body implies and it lacks; answers how many changed."""
    filled = 0
    for chain, head_id in sorted(audit._heads.items()):
        async with audit.db.unit() as unit:
            head = await audit.appender.lock(unit, AUDIT_HEAD, head_id)
            if head is None or head.get("copies") == COPIES:
                continue
            filled += await _fill_chain(audit, unit, chain)
            await audit.appender.set_later(unit, AUDIT_HEAD, head_id, {"copies": COPIES})
    return filled


async def _fill_chain(audit: AuditLog, unit: Unit, chain: int) -> int:
    filled, last, end = 0, chain * SPAN, (chain + 1) * SPAN
    while True:
        page = await audit.records.find(TOOL_CALL, {"seq": {"$gt": last, "$lte": end}}, order="seq",
                                        limit=PAGE, unit=unit)
        for row in page:
            if missing := _missing(row):
                await audit.appender.set_later(unit, TOOL_CALL, row["objectId"], missing)
                filled += 1
        await unit.flush()
        if len(page) < PAGE:
            return filled
        last = int(page[-1]["seq"])


def _missing(row: dict[str, Any]) -> dict[str, str]:
    """The copies the row lacks that its body holds (a body that is not JSON is left for verify to report)."""
    try:
        body = orjson.loads(str(row.get("body", "")))
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {key: body[key] for key in INDEXED if row.get(key) is None and isinstance(body.get(key), str)}
