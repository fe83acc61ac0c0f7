"""A find's rows shaped in storage's decoding pass (render.WireShape) equal storage's Rows rendered by ``render``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backend.services.data.render import WireShape, render
from backend.storage.protocols import ClassSchema, FieldSpec
from backend.storage.sqltables import row_decoder, shaped_decoder

DEFAULTS = {"objectId": FieldSpec("String"), "createdAt": FieldSpec("Date"), "updatedAt": FieldSpec("Date"),
            "ACL": FieldSpec("ACL")}
KINDS = ["String", "Number", "Boolean", "Date", "Object", "Array", "Pointer", "File", "Bytes", "GeoPoint",
         "Polygon", "Relation"]
NAMES = st.sampled_from(["name", "score", "when", "meta", "tags", "owner", "photo", "blob", "spot", "area", "likes",
                         "password", "_hashed_password", "_private", "flag"])
DATES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
NUMBERS = st.one_of(st.floats(allow_nan=False), st.integers(-2**60, 2**60).map(float))
TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=5)  # what storage holds (wire.decode refuses NUL)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), TEXT, st.integers(-2**40, 2**40),
              st.floats(allow_nan=False, allow_infinity=False),
              DATES.map(lambda d: {"__type": "Date", "iso": d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"})),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text("abc", min_size=1, max_size=3),
                                                                          inner, max_size=3)),
    max_leaves=8,
)
PERMS = st.one_of(st.none(), st.lists(st.sampled_from(["*", "u1", "role:A"]), max_size=3, unique=True))


def stored(kind: str) -> st.SearchStrategy[Any]:
    """What a driver hands storage for a column of this field type (after SQLAlchemy's processors)."""
    return {
        "String": st.text(max_size=6), "Number": NUMBERS, "Boolean": st.booleans(), "Date": DATES.map(_ms),
        "Object": st.dictionaries(st.text("xyz", min_size=1, max_size=3), JSON, max_size=3), "Array": st.lists(JSON),
        "Pointer": st.text("abc", min_size=1, max_size=4), "File": st.text("fg.", min_size=1, max_size=5),
        "Bytes": st.just("aGk="),
        "GeoPoint": st.builds(lambda a, b: {"__type": "GeoPoint", "latitude": a, "longitude": b},
                              st.floats(-90, 90), st.floats(-180, 180)),
        "Polygon": st.just({"__type": "Polygon", "coordinates": [[0.0, 0.0], [0.0, 1.5], [1.0, 1.0]]}),
    }[kind]


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


@st.composite
def results(draw: st.DrawFn) -> tuple[ClassSchema, list[str], list[list[Any]]]:
    """A schema, a SELECT's column names (any order, maybe an unknown one) and rows of stored values."""
    fields = dict(DEFAULTS)
    for name in draw(st.lists(NAMES, max_size=6, unique=True)):
        kind = draw(st.sampled_from(KINDS))
        fields[name] = FieldSpec(kind, "Owner" if kind in ("Pointer", "Relation") else None)
    schema = ClassSchema("Thing", fields)
    columns = [*schema.column_fields(), "_rperm", "_wperm", *draw(st.sampled_from([[], ["stray"]]))]
    names = draw(st.permutations(columns))
    kinds = {name: spec.type for name, spec in schema.column_fields().items()}
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        values = []
        for name in names:
            known = kinds.get(name)
            strategy = stored(known) if known else PERMS if name in ("_rperm", "_wperm") else st.text(max_size=3)
            values.append(draw(st.one_of(st.none(), strategy)))
        rows.append(values)
    return schema, names, rows


def file_url(name: str) -> str:
    return f"https://files.example/{name}"


@given(results())
def test_shaped_rows_equal_rendered_rows(result: tuple[ClassSchema, list[str], list[list[Any]]]) -> None:
    schema, names, rows = result
    decode, shaped = row_decoder(schema, names), shaped_decoder(schema, names, WireShape(file_url))
    for values in rows:
        expected = render(schema, decode(values), file_url)
        got = shaped(values)
        assert got == expected
        assert list(got) == list(expected)  # the same key order too: clients see the same JSON text
        assert [type(value) for value in got.values()] == [type(value) for value in expected.values()]
