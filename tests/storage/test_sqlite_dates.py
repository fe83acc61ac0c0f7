"""SQLite dates read back through UTCDateTime's one-step processor equal SQLAlchemy's own chain of processors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from backend.storage.sqltables import UTCDateTime

DIALECT = sqlite.dialect()
COLUMN: Any = UTCDateTime().dialect_impl(DIALECT)  # as SQLAlchemy adapts it to the engine before asking
ZONES = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60))
DATES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


def stored_text(value: datetime) -> Any:
    """What SQLAlchemy writes into SQLite for a UTCDateTime value (its bind chain)."""
    process = COLUMN.bind_processor(DIALECT)
    assert process is not None
    return process(value)


def chained(text: Any) -> Any:
    """What SQLAlchemy's chain makes of it: SQLite DATETIME's own processor, then process_result_value."""
    impl = COLUMN.impl_instance.result_processor(DIALECT, None)
    assert impl is not None
    return COLUMN.process_result_value(impl(text), DIALECT)


def one_step() -> Any:
    process = COLUMN.result_processor(DIALECT, None)
    assert process is not None
    return process


@given(DATES)
def test_a_stored_date_reads_back_as_the_same_aware_utc_datetime_either_way(value: datetime) -> None:
    text = stored_text(value)
    read = one_step()(text)
    assert read == chained(text) == value
    assert read.tzinfo is UTC


@given(st.sampled_from(["2024-01-02 03:04:05", "2024-01-02 03:04:05.5", "2024-01-02T03:04:05.678+02:00",
                        "2024-01-02 03:04:05.678000+00:00", "2024-01-02"]))
def test_text_in_another_shape_goes_through_sqlalchemys_chain(text: str) -> None:
    assert one_step()(text) == chained(text)
    assert one_step()(None) is None


def test_a_round_trip_through_sqlite_gives_aware_utc_dates() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime()))
    engine = sa.create_engine("sqlite://")
    sent = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=5)))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(sa.insert(table), [{"id": 1, "at": sent}, {"id": 2, "at": None}])
        rows = conn.execute(sa.select(table.c.at).order_by(table.c.id)).scalars().all()
    assert rows == [sent, None]
    assert rows[0] is not None and rows[0].tzinfo is UTC
