"""What Parse's query operators mean, as pure functions on JSON values.

The in-memory matcher calls these directly; the SQLite adapter registers the
``sqlite_*`` wrappers as SQL functions (only for what SQLite's SQL cannot say),
so both answer with the same code. PostgreSQL expresses the same rules in SQL
(``storage/postgres.py``).

Regular expressions have ONE meaning on every engine, PostgreSQL's (it is what
Parse Server on PostgreSQL gives): ``.`` matches a newline, ``^``/``$`` anchor
the whole string unless ``m`` is given, ``\\b`` is a word boundary, ``\\Q..\\E``
quotes. RE2 runs it in Python (linear time, ``compile_regex``); ``postgres_pattern`` spells it for
PostgreSQL. What RE2 cannot run (backreferences, lookaround) is refused on every engine alike.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Protocol

import re2

EARTH_RADIUS_KM = 6371.0
# the ordering comparisons of a query tree: the same functions compare Python values (the matcher) and build
# SQL (SQLAlchemy columns overload them)
ORDERED: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
}
WORD = re.compile(r"\w+", re.UNICODE)


def json_key(value: Any) -> Any:
    """A hashable identity for a JSON value where 1 == 1.0 (also nested), True != 1, key order is moot."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    if isinstance(value, list | tuple):
        return ("a", tuple(json_key(item) for item in value))
    if isinstance(value, dict):
        return ("o", tuple(sorted((str(k), json_key(v)) for k, v in value.items())))
    return ("j", json.dumps(value, sort_keys=True, default=str))


def is_scalar(value: Any) -> bool:
    """A JSON value SQL can compare directly (not an array or object)."""
    return not isinstance(value, list | tuple | dict)


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value, as JSON Schema and PostgreSQL's jsonb_typeof name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def contains_any(array: Iterable[Any], values: Iterable[Any]) -> bool:
    wanted = {json_key(value) for value in values}
    return any(json_key(item) in wanted for item in array)


def contains_all(array: Iterable[Any], values: Iterable[Any]) -> bool:
    present = {json_key(item) for item in array}
    return all(json_key(value) in present for value in values)


def contained_by(array: Iterable[Any], values: Iterable[Any]) -> bool:
    allowed = {json_key(value) for value in values}
    return all(json_key(item) in allowed for item in array)


def json_equals(a: Any, b: Any) -> bool:
    return bool(json_key(a) == json_key(b))


# --- regular expressions ---------------------------------------------------------------

LEADING_OPTIONS = re.compile(r"^\(\?([a-z]+)\)")
QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)


def unquote(pattern: str) -> str:
    r"""``\Q...\E`` (what the SDKs' startsWith/endsWith/contains send) -> escaped literal text."""
    return QUOTED.sub(lambda m: "".join(ch if ch.isalnum() or ch == "_" else "\\" + ch for ch in m.group(1)), pattern)


def _rewrite(pattern: str, replace: dict[str, str], in_brackets: dict[str, str] | None = None) -> str:
    """Rewrite escapes: ``replace`` outside bracket expressions, ``in_brackets`` inside them."""
    inside = in_brackets or {}
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append(inside.get(pair, pair) if in_class else replace.get(pair, pair))
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
                continue
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# RE2's \\w and \\d are ASCII; PostgreSQL's (and Python's) are Unicode, so spell them as Unicode classes
_UNICODE_CLASSES = {r"\w": r"[\p{L}\p{N}_]", r"\W": r"[^\p{L}\p{N}_]", r"\d": r"\p{Nd}", r"\D": r"\P{Nd}"}
_UNICODE_IN_BRACKETS = {r"\w": r"\p{L}\p{N}_", r"\d": r"\p{Nd}"}


def re2_pattern(pattern: str, multiline: bool) -> str:
    return ("(?m)" if multiline else "") + _rewrite(pattern, _UNICODE_CLASSES, _UNICODE_IN_BRACKETS)


def postgres_pattern(pattern: str, multiline: bool) -> str:
    # PostgreSQL spells word boundaries \y and \Y (its \b is a backspace)
    body = _rewrite(pattern, {r"\b": r"\y", r"\B": r"\Y"})
    if not multiline:
        return body
    # (?w): ^ and $ also match at newlines, '.' is left alone (JavaScript's m flag); PostgreSQL
    # takes one embedded-options group, at the very start, so merge w into the pattern's own
    leading = LEADING_OPTIONS.match(body)
    if leading:
        return f"(?w{leading.group(1)})" + body[leading.end():]
    return "(?w)" + body


class Compiled(Protocol):
    def search(self, text: str) -> object | None: ...


class RegexRefused(ValueError):
    """A pattern the linear-time engine cannot run (backreferences, lookaround, huge repeats...)."""


def _re2_options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.dot_nl = True  # PostgreSQL's '.' matches a newline
    options.case_sensitive = not ignore_case
    options.log_errors = False  # a refused pattern is the client's error, not a line on our stderr
    return options


@lru_cache(maxsize=512)
def compile_regex(pattern: str, ignore_case: bool, multiline: bool) -> Compiled:
    """RE2 runs in time linear in the input: no pattern can stall the process (``^(a+)+$`` included).

    RE2's ``$`` already anchors at the very end only (PostgreSQL's meaning) unless ``m`` is given.
    """
    try:
        compiled: Compiled = re2.compile(re2_pattern(pattern, multiline), _re2_options(ignore_case))
    except re2.error as error:
        detail = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else error
        raise RegexRefused(str(detail)) from error
    return compiled


def regex(value: str, pattern: str, ignore_case: bool, multiline: bool) -> bool:
    return compile_regex(pattern, ignore_case, multiline).search(value) is not None


def words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(text)}


def text_search(value: str, terms: Iterable[str]) -> bool:
    """Every search term occurs as a whole word, case-insensitively."""
    present = words(value)
    return all(term.lower() in present for term in terms)


def geo_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in radians (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def polygon_contains(coordinates: list[list[float]], lat: float, lon: float) -> bool:
    """Ray casting on (latitude, longitude) pairs; points on an edge count as inside."""
    inside = False
    count = len(coordinates)
    for i in range(count):
        lat_a, lon_a = coordinates[i]
        lat_b, lon_b = coordinates[(i + 1) % count]
        if _on_segment(lat, lon, lat_a, lon_a, lat_b, lon_b):
            return True
        if (lon_a > lon) != (lon_b > lon):
            crossing = lat_a + (lon - lon_a) * (lat_b - lat_a) / (lon_b - lon_a)
            if lat < crossing:
                inside = not inside
    return inside


def _on_segment(lat: float, lon: float, lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> bool:
    cross = (lat - lat_a) * (lon_b - lon_a) - (lon - lon_a) * (lat_b - lat_a)
    if abs(cross) > 1e-12:
        return False
    return min(lat_a, lat_b) <= lat <= max(lat_a, lat_b) and min(lon_a, lon_b) <= lon <= max(lon_a, lon_b)


# --- SQLite wrappers: arguments arrive as SQL values / JSON text ----------------------


def _array(text: Any) -> list[Any] | None:
    if not isinstance(text, str):
        return None
    parsed = json.loads(text)
    return parsed if isinstance(parsed, list) else None


def sqlite_contains_any(array_json: Any, values_json: str) -> int | None:
    array = _array(array_json)
    return None if array is None else int(contains_any(array, json.loads(values_json)))


@lru_cache(maxsize=64)
def _wanted(values_json: str) -> frozenset[Any]:
    """The keys of a literal list, parsed once per query rather than once per row."""
    return frozenset(json_key(value) for value in json.loads(values_json))


def sqlite_contains_all(array_json: Any, values_json: str) -> int | None:
    array = _array(array_json)
    return None if array is None else int(_wanted(values_json) <= {json_key(item) for item in array})


def sqlite_contained_by(array_json: Any, values_json: str) -> int | None:
    array = _array(array_json)
    return None if array is None else int(contained_by(array, json.loads(values_json)))


def sqlite_json_equals(value_json: Any, literal_json: str) -> int | None:
    if not isinstance(value_json, str):
        return None
    return int(json_equals(json.loads(value_json), json.loads(literal_json)))


def sqlite_regex(value: Any, pattern: str, ignore_case: int, multiline: int) -> int | None:
    if not isinstance(value, str):
        return None
    return int(regex(value, pattern, bool(ignore_case), bool(multiline)))


def sqlite_text_search(value: Any, terms_json: str) -> int | None:
    return None if not isinstance(value, str) else int(text_search(value, json.loads(terms_json)))


def sqlite_geo_distance(lat1: Any, lon1: Any, lat2: float, lon2: float) -> float | None:
    if lat1 is None or lon1 is None:
        return None
    return geo_distance(float(lat1), float(lon1), lat2, lon2)


def sqlite_polygon_contains(polygon_json: Any, lat: Any, lon: Any) -> int | None:
    if not isinstance(polygon_json, str) or lat is None or lon is None:
        return None
    polygon = json.loads(polygon_json)
    coordinates = polygon.get("coordinates") if isinstance(polygon, dict) else None
    if not isinstance(coordinates, list):
        return None
    return int(polygon_contains(coordinates, float(lat), float(lon)))
