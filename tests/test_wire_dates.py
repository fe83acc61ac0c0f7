"""Dates leave the server in one shape, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, whatever their zone or precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from backend import wire

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))])
# local times that stay inside years 1..9999 once moved to UTC
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


@given(MOMENTS)
def test_format_iso_writes_milliseconds_in_utc_for_any_zone_and_precision(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    expected = utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # 4-digit years, as Parse
    assert wire.format_iso(moment) == expected
    assert wire.format_iso(moment.replace(microsecond=0)) == expected[:19] + ".000Z"


def test_format_iso_reads_back_as_the_same_millisecond() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert wire.format_iso(moment) == "2024-02-29T23:59:59.999Z"
    assert wire.parse_iso(wire.format_iso(moment)) == moment.replace(microsecond=999000)
