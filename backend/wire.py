"""Parse JSON <-> Python values (pure).

``decode`` turns the JSON a client sends into values (``datetime``, ``Pointer``,
``GeoPoint``, ops such as ``Increment`` ...); ``encode`` is its inverse. The
storage adapters and the query translator speak these values, never raw
``{"__type": ...}`` dicts.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import orjson

from backend.errors import IncorrectType, InvalidJSON, InvalidNestedKey, InvalidPointer, InvalidValue

JSON: TypeAlias = Any
"""A JSON document as parsed (dict, list, str, float, int, bool, None)."""

MAX_DEPTH = 64
"""Nesting deeper than this is refused, so a hostile body cannot exhaust the stack."""


@dataclass(frozen=True, slots=True)
class Pointer:
    class_name: str
    object_id: str


@dataclass(frozen=True, slots=True)
class RelationRef:
    class_name: str


@dataclass(frozen=True, slots=True)
class File:
    name: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Polygon:
    coordinates: tuple[tuple[float, float], ...]  # (latitude, longitude) pairs


@dataclass(frozen=True, slots=True)
class Bytes:
    base64: str


# --- update operators ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Increment:
    amount: float


@dataclass(frozen=True, slots=True)
class Add:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AddUnique:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Remove:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Delete:
    pass


@dataclass(frozen=True, slots=True)
class AddRelation:
    pointers: tuple[Pointer, ...]


@dataclass(frozen=True, slots=True)
class RemoveRelation:
    pointers: tuple[Pointer, ...]


@dataclass(frozen=True, slots=True)
class RelationBatch:
    """Parse's ``{"__op": "Batch"}``: AddRelation and RemoveRelation on one field."""

    add: tuple[Pointer, ...]
    remove: tuple[Pointer, ...]


Op: TypeAlias = Increment | Add | AddUnique | Remove | Delete | AddRelation | RemoveRelation | RelationBatch
OP_TYPES = (Increment, Add, AddUnique, Remove, Delete, AddRelation, RemoveRelation, RelationBatch)

OBJECT_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")


# --- dates ------------------------------------------------------------------------


def parse_iso(text: object) -> datetime:
    """A Parse ISO-8601 date (always UTC, millisecond precision)."""
    if not isinstance(text, str) or len(text) > 40:
        raise IncorrectType("Invalid date: expected an ISO-8601 string.")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise IncorrectType(f"Invalid date {text[:40]!r}.") from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return truncate_ms(value.astimezone(UTC))


def truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def format_iso(value: datetime) -> str:
    """``2024-01-02T03:04:05.678Z``, the only date shape Parse sends."""
    # orjson writes RFC 3339 with microseconds when there are any (``"2024-01-02T03:04:05.678900+00:00"``,
    # quoted) in a third of the time of isoformat(timespec=...): a 10-object find formats 20 dates
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = orjson.dumps(value)
    return (text[1:24] + b"Z" if value.microsecond else text[1:20] + b".000Z").decode()


def now() -> datetime:
    return truncate_ms(datetime.now(UTC))


# --- decode -----------------------------------------------------------------------


def decode(value: JSON, depth: int = 0) -> Any:
    """Parse JSON (one field's value) -> Python value; ops are decoded too."""
    if depth > MAX_DEPTH:
        raise InvalidJSON("The value is nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidValue("Strings may not contain NUL characters.")
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue("Numbers must be finite.")
        return value
    if isinstance(value, list):
        return [decode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if "__type" in value:
            return _decode_typed(value)
        if "__op" in value:
            return _decode_op(value, depth)
        return {_nested_key(key): decode(item, depth + 1) for key, item in value.items()}
    raise InvalidJSON("Unsupported JSON value.")


def _nested_key(key: str) -> str:
    # parse-server refuses '$' and '.' inside Object keys (Mongo's rule, kept for every engine)
    if not key or len(key) > 256 or "$" in key or "." in key or "\x00" in key:
        raise InvalidNestedKey("Nested keys should not contain the '$' or '.' characters.")
    return key


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise IncorrectType(f"{what} must be a number.")
    return float(value)


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise IncorrectType(f"{what} must be a string.")
    return value


def decode_pointer(value: JSON) -> Pointer:
    if not isinstance(value, dict) or value.get("__type") != "Pointer":
        raise InvalidPointer("Expected a Pointer.")
    class_name = _string(value.get("className"), "Pointer className")
    object_id = value.get("objectId")
    if not isinstance(object_id, str) or not OBJECT_ID.match(object_id):
        raise InvalidPointer("Pointer objectId must be an alphanumeric id.")
    return Pointer(class_name, object_id)


def geo_point(latitude: object, longitude: object) -> GeoPoint:
    lat, lon = _number(latitude, "latitude"), _number(longitude, "longitude")
    if not -90.0 <= lat <= 90.0:
        raise InvalidValue("GeoPoint latitude out of bounds: must be in [-90, 90].")
    if not -180.0 <= lon <= 180.0:
        raise InvalidValue("GeoPoint longitude out of bounds: must be in [-180, 180].")
    return GeoPoint(lat, lon)


def _decode_typed(value: dict[str, JSON]) -> Any:
    kind = value["__type"]
    if kind == "Date":
        return parse_iso(value.get("iso"))
    if kind in ("Pointer", "Object"):
        if kind == "Object":  # a full object inside a pointer slot: keep the reference only
            value = {"__type": "Pointer", "className": value.get("className"), "objectId": value.get("objectId")}
        return decode_pointer(value)
    if kind == "Relation":
        return RelationRef(_string(value.get("className"), "Relation className"))
    if kind == "File":
        url = value.get("url")
        return File(_string(value.get("name"), "File name"), url if isinstance(url, str) else None)
    if kind == "GeoPoint":
        return geo_point(value.get("latitude"), value.get("longitude"))
    if kind == "Polygon":
        return _decode_polygon(value.get("coordinates"))
    if kind == "Bytes":
        text = _string(value.get("base64"), "Bytes base64")
        try:
            base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise IncorrectType("Bytes must be valid base64.") from error
        return Bytes(text)
    raise IncorrectType(f"Unknown __type {str(kind)[:32]!r}.")


def _decode_polygon(coordinates: JSON) -> Polygon:
    if not isinstance(coordinates, list) or len(coordinates) < 3:
        raise InvalidValue("Polygon must have at least 3 points.")
    points: list[tuple[float, float]] = []
    for pair in coordinates:
        if isinstance(pair, dict) and pair.get("__type") == "GeoPoint":
            point = geo_point(pair.get("latitude"), pair.get("longitude"))
        elif isinstance(pair, list) and len(pair) == 2:
            point = geo_point(pair[0], pair[1])
        else:
            raise InvalidValue("Polygon points must be [latitude, longitude] pairs.")
        points.append((point.latitude, point.longitude))
    if points[0] != points[-1]:
        points.append(points[0])  # Parse stores the ring closed: the first point again at the end
    return Polygon(tuple(points))


def _objects(value: dict[str, JSON], depth: int) -> tuple[Any, ...]:
    objects = value.get("objects")
    if not isinstance(objects, list):
        raise InvalidJSON("objects to add must be an array.")
    return tuple(decode(item, depth + 1) for item in objects)


def _pointers(value: dict[str, JSON]) -> tuple[Pointer, ...]:
    objects = value.get("objects")
    if not isinstance(objects, list):
        raise InvalidJSON("objects must be an array of pointers.")
    return tuple(decode_pointer(item) for item in objects)


def _decode_op(value: dict[str, JSON], depth: int) -> Op:
    op = value["__op"]
    if op == "Increment":
        return Increment(_number(value.get("amount"), "Increment amount"))
    if op == "Add":
        return Add(_objects(value, depth))
    if op == "AddUnique":
        return AddUnique(_objects(value, depth))
    if op == "Remove":
        return Remove(_objects(value, depth))
    if op == "Delete":
        return Delete()
    if op == "AddRelation":
        return AddRelation(_pointers(value))
    if op == "RemoveRelation":
        return RemoveRelation(_pointers(value))
    if op == "Batch":
        return _decode_batch(value.get("ops"), depth)
    raise InvalidJSON(f"Unknown operator {str(op)[:32]!r}.")


def _decode_batch(ops: JSON, depth: int) -> RelationBatch:
    if not isinstance(ops, list):
        raise InvalidJSON("Batch ops must be an array.")
    add: list[Pointer] = []
    remove: list[Pointer] = []
    for item in ops:
        op = decode(item, depth + 1) if isinstance(item, dict) and "__op" in item else None
        if isinstance(op, AddRelation):
            add.extend(op.pointers)
        elif isinstance(op, RemoveRelation):
            remove.extend(op.pointers)
        else:
            raise InvalidJSON("Batch ops must be AddRelation or RemoveRelation.")
    return RelationBatch(tuple(add), tuple(remove))


# --- encode -----------------------------------------------------------------------


def encode(value: Any) -> JSON:
    """Python value -> Parse JSON."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, datetime):
        return {"__type": "Date", "iso": format_iso(value)}
    if isinstance(value, Pointer):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.object_id}
    if isinstance(value, RelationRef):
        return {"__type": "Relation", "className": value.class_name}
    if isinstance(value, File):
        return {"__type": "File", "name": value.name, "url": value.url}
    if isinstance(value, GeoPoint):
        return {"__type": "GeoPoint", "latitude": value.latitude, "longitude": value.longitude}
    if isinstance(value, Polygon):
        return {"__type": "Polygon", "coordinates": [list(pair) for pair in value.coordinates]}
    if isinstance(value, Bytes):
        return {"__type": "Bytes", "base64": value.base64}
    raise TypeError(f"cannot encode {type(value).__name__}")


def type_name(value: Any) -> str | None:
    """The Parse schema type a stored value implies (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        return "Date"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return _TYPE_NAMES.get(type(value))


_TYPE_NAMES: dict[type, str] = {
    Pointer: "Pointer",
    RelationRef: "Relation",
    File: "File",
    GeoPoint: "GeoPoint",
    Polygon: "Polygon",
    Bytes: "Bytes",
    AddRelation: "Relation",
    RemoveRelation: "Relation",
    RelationBatch: "Relation",
    Increment: "Number",
    Add: "Array",
    AddUnique: "Array",
    Remove: "Array",
}
