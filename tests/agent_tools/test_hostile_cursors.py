"""Hostile audit page cursors and time filters (the console's ``after``, ``since``, ``until``): a Parse error
naming the cursor or the date, never a server error, on both engines."""

from __future__ import annotations

import pytest

from backend.errors import ParseError
from tests.agent_tools.conftest import Gateway

CURSORS = ["2026-13-45T25:61:61Z|1", "0000-00-00T00:00:00Z|1", "2026-01-01T00:00:00Z|" + "9" * 64,
           "9999-12-31T23:59:59.999999Z|9223372036854775808", "2026-01-01T00:00:00Z|-1",
           "2026-01-01T00:00:00Z|1\n", "x|1", ""]


@pytest.mark.parametrize("newest_first", [True, False])
async def test_hostile_cursors_are_refused_with_a_parse_error(gateway: Gateway, newest_first: bool) -> None:
    _, token = await gateway.agent("paged", grants=["read:*"])
    await gateway.call(token, "read", "list_classes")
    for cursor in CURSORS:
        try:
            await gateway.tools.audit.page({}, 5, cursor or None, newest_first=newest_first)
        except ParseError as error:
            assert error.code == 102 and "cursor" in error.message, (cursor, error)


async def test_hostile_time_filters_are_refused_with_a_parse_error(gateway: Gateway) -> None:
    for bad in ("garbage", "2026-13-45T25:61:61Z", "9" * 200, "0000-01-01T00:00:00Z"):
        for key in ("since", "until"):
            try:
                await gateway.tools.audit.page({key: bad}, 5, None)
            except ParseError as error:
                assert error.code in (102, 111), (key, bad, error)
