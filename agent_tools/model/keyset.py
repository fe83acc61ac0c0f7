"""Keyset paging: a page starts after the last row of the one before, by (time, tie-breaker), never by OFFSET.

A cursor is ``<ISO time>|<tie-breaker>`` (the audit's record sequence, or an approval's id); the where it
makes reads the (time, tie-breaker) index from that point, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from backend import wire
from backend.errors import InvalidQuery

CURSOR = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)\|([A-Za-z0-9_-]{1,64})$")


def cursor_of(moment: Any, key: Any) -> str:
    """The cursor after a row: its time (a Date, datetime or ISO text) and its tie-breaker."""
    if isinstance(moment, dict):
        moment = moment.get("iso")
    iso = wire.format_iso(moment) if not isinstance(moment, str) else moment
    return f"{iso}|{key}"


def after(cursor: str, time_field: str, key_field: str, *, descending: bool, numeric: bool = False) -> dict[str, Any]:
    """The where (Parse JSON) of the rows after ``cursor`` in (time, key) order, newest first when ``descending``."""
    found = CURSOR.fullmatch(cursor)
    if found is None or not _valid(found.group(1), found.group(2), numeric):
        raise InvalidQuery("The page cursor is malformed; start again from the first page.")
    moment = {"__type": "Date", "iso": found.group(1)}
    key: Any = int(found.group(2)) if numeric else found.group(2)
    op = "$lt" if descending else "$gt"
    return {"$and": [{time_field: {op + "e": moment}}, {"$or": [{time_field: {op: moment}}, {key_field: {op: key}}]}]}


def _valid(iso: str, key: str, numeric: bool) -> bool:
    """A real instant, and a numeric key a 64-bit column holds (a hand-made cursor is still only a cursor)."""
    if numeric and not (key.isdigit() and int(key) < 2**63):
        return False
    try:
        datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in iso else "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True
