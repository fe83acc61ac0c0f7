"""Wire values become column values the same way whichever test in ``to_column`` takes them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backend import jsontext, wire
from backend.storage.protocols import FieldSpec
from backend.storage.sqltables import to_column

SCALARS = st.one_of(st.text(max_size=8), st.floats(allow_nan=False), st.booleans(),
                    st.integers(min_value=-2**70, max_value=2**70))


@given(st.sampled_from(["String", "Number", "Boolean", "Date"]), SCALARS)
def test_a_scalar_column_stores_the_value_as_sent_with_big_integers_as_doubles(kind: str, value: Any) -> None:
    stored = to_column(FieldSpec(kind), value)
    assert type(stored) is type(jsontext.doubles(value)) and stored == jsontext.doubles(value)


@given(st.sampled_from(["Object", "Array", "GeoPoint", "Polygon"]), SCALARS)
def test_a_json_column_stores_the_wire_form_so_whole_doubles_become_integers(kind: str, value: Any) -> None:
    stored = to_column(FieldSpec(kind), value)
    expected = jsontext.doubles(wire.encode(value))
    assert type(stored) is type(expected) and stored == expected
