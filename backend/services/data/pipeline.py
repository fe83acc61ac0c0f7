"""Aggregation pipelines over rendered Parse objects, in memory (pure).

Supports the stages Parse documents for ``/aggregate``: ``$match $group $sort
$limit $skip $project $count``. As in parse-server, a group's key is given as
``_id`` (``objectId`` is refused) and comes back as ``objectId``; fields are
referenced as ``"$name"`` (dotted paths into Objects allowed, ``_created_at``
and ``_updated_at`` as aliases). A leading ``$match`` is pushed down to the
database as a ``where`` by the caller; later ones are matched here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from backend import wire
from backend.errors import InvalidQuery

STAGES = ("$match", "$group", "$sort", "$limit", "$skip", "$project", "$count")
ALIASES = {"_id": "objectId", "_created_at": "createdAt", "_updated_at": "updatedAt"}
DATE_PARTS: Mapping[str, Callable[[datetime], int]] = {
    "$year": lambda d: d.year, "$month": lambda d: d.month, "$dayOfMonth": lambda d: d.day,
    "$hour": lambda d: d.hour, "$minute": lambda d: d.minute, "$second": lambda d: d.second,
    "$dayOfWeek": lambda d: d.isoweekday() % 7 + 1, "$dayOfYear": lambda d: d.timetuple().tm_yday,
    "$week": lambda d: int(d.strftime("%U")),
}
Doc = dict[str, Any]


def stages_from(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``pipeline`` (array or object), or stage params (``$group=...``), as a list of one-key stages."""
    pipeline = params.get("pipeline", {k: v for k, v in params.items() if k not in ("distinct", "where")})
    if isinstance(pipeline, dict):
        pipeline = [{key: value} for key, value in pipeline.items() if value is not None]
    if not isinstance(pipeline, list):
        raise InvalidQuery("pipeline must be an array of stages.")
    stages = []
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            keys = ", ".join(map(str, stage)) if isinstance(stage, dict) else str(stage)[:64]
            raise InvalidQuery(f"Pipeline stages should only have one key but found {keys[:200]}.")
        name = next(iter(stage))
        if name in ("distinct", "where"):
            continue
        if name not in STAGES:
            raise InvalidQuery(f"Invalid aggregate stage '{str(name)[:64]}'.")
        if name == "$group":
            _check_group(stage[name])
        stages.append(stage)
    return stages


def _check_group(spec: object) -> None:
    if not isinstance(spec, dict):
        raise InvalidQuery("$group must be an object.")
    if "objectId" in spec:
        raise InvalidQuery("Cannot use 'objectId' in aggregation stage $group.")
    if "_id" not in spec:
        raise InvalidQuery("Invalid parameter for query: group. Missing key _id")


def split_match(stages: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The leading ``$match`` stages (as one where, for the database) and the rest."""
    wheres: list[dict[str, Any]] = []
    while stages and "$match" in stages[0]:
        where = stages[0]["$match"]
        if not isinstance(where, dict):
            raise InvalidQuery("$match must be an object.")
        wheres.append({str(ALIASES.get(key, key)): value for key, value in where.items()})
        stages = stages[1:]
    if not wheres:
        return None, stages
    return (wheres[0] if len(wheres) == 1 else {"$and": wheres}), stages


def run(docs: list[Doc], stages: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Apply the stages in order; answers the rows as the client sees them (Parse JSON)."""
    rows: list[Doc] = [{key: _plain(value) for key, value in doc.items()} for doc in docs]
    for stage in stages:
        name, spec = next(iter(stage.items()))
        rows = _STAGE_RUNNERS[name](rows, spec)
    return [{key: _out(value) for key, value in row.items()} for row in rows]


def distinct(docs: list[Doc], field: str) -> list[Any]:
    seen: list[Any] = []
    for doc in docs:
        value = _path(doc, field)
        for item in value if isinstance(value, list) else [value]:
            if item is not None and item not in seen:
                seen.append(item)
    return seen


# --- values ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Parse JSON -> values that compare: Dates become datetimes."""
    if isinstance(value, dict) and value.get("__type") == "Date":
        return wire.parse_iso(value.get("iso"))
    return value


def _out(value: Any) -> Any:
    return {"__type": "Date", "iso": wire.format_iso(value)} if isinstance(value, datetime) else value


def _path(doc: Mapping[str, Any], dotted: str) -> Any:
    parts = dotted.split(".")
    value: Any = doc.get(ALIASES.get(parts[0], parts[0]))
    for part in parts[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and parts[0] in ("createdAt", "updatedAt", "_created_at", "_updated_at"):
        return wire.parse_iso(value)
    return _plain(value)


def _expression(doc: Doc, expr: Any) -> Any:
    """``"$field"`` -> its value; ``{"$year": "$createdAt"}`` -> a date part; anything else is a literal."""
    if isinstance(expr, str) and expr.startswith("$"):
        return _path(doc, expr[1:])
    if isinstance(expr, dict) and len(expr) == 1:
        (op, arg), = expr.items()
        if op in DATE_PARTS:
            moment = _expression(doc, arg)
            return DATE_PARTS[op](moment) if isinstance(moment, datetime) else None
    return expr


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sort_key(value: Any) -> tuple[int, Any]:
    """Order across types as Mongo does, roughly: null < numbers < strings < dates < the rest."""
    if value is None:
        return (0, 0)
    if _number(value) is not None:
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (4, value.timestamp())
    if isinstance(value, bool):
        return (5, value)
    return (6, repr(value))


# --- stages ---------------------------------------------------------------------------------


def _group(rows: list[Doc], spec: Mapping[str, Any]) -> list[Doc]:
    key_spec = spec["_id"]
    groups: dict[str, tuple[Any, list[Doc]]] = {}
    for row in rows:
        if isinstance(key_spec, dict) and not _is_date_part(key_spec):
            key: Any = {alias: _expression(row, expr) for alias, expr in key_spec.items()}
        else:
            key = _expression(row, key_spec) if key_spec not in ("", None) else None
        groups.setdefault(repr(_sort_key(key)) + repr(key), (key, []))[1].append(row)
    out = []
    for key, members in groups.values():
        result: Doc = {"objectId": key}
        for name, accumulator in spec.items():
            if name != "_id":
                result[name] = _accumulate(name, accumulator, members)
        out.append(result)
    return out


def _is_date_part(spec: Mapping[str, Any]) -> bool:
    return len(spec) == 1 and next(iter(spec)) in DATE_PARTS


def _accumulate(name: str, spec: Any, members: list[Doc]) -> Any:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise InvalidQuery(f"The field '{name[:64]}' must be an accumulator object.")
    (op, expr), = spec.items()
    values = [_expression(row, expr) for row in members]
    numbers = [n for n in map(_number, values) if n is not None]
    present = [value for value in values if value is not None]
    if op == "$sum":
        return sum(numbers)
    if op == "$avg":
        return sum(numbers) / len(numbers) if numbers else None
    if op in ("$min", "$max"):
        if not present:
            return None
        pick = min if op == "$min" else max
        return pick(present, key=_sort_key)
    if op == "$first":
        return values[0] if values else None
    if op == "$last":
        return values[-1] if values else None
    if op == "$push":
        return present
    if op == "$addToSet":
        return [v for i, v in enumerate(present) if v not in present[:i]]
    raise InvalidQuery(f"Unsupported accumulator {str(op)[:32]} in $group.")


def _sort(rows: list[Doc], spec: object) -> list[Doc]:
    if not isinstance(spec, dict) or not spec or any(d not in (1, -1) for d in spec.values()):
        raise InvalidQuery("$sort must map field names to 1 or -1.")
    for field, direction in reversed(list(spec.items())):  # stable sorts, last key first
        rows = sorted(rows, key=_key_of(str(field)), reverse=direction == -1)
    return rows


def _key_of(field: str) -> Callable[[Doc], tuple[int, Any]]:
    return lambda row: _sort_key(_path(row, field))


def _count_of(value: object, stage: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuery(f"{stage} must be a non-negative whole number.")
    return value


def _project(rows: list[Doc], spec: object) -> list[Doc]:
    if not isinstance(spec, dict) or not spec:
        raise InvalidQuery("$project must be a non-empty object.")
    included = {k: v for k, v in spec.items() if v not in (0, False)}
    excluded = {ALIASES.get(k, k) for k, v in spec.items() if v in (0, False)}
    if not included:
        return [{k: v for k, v in row.items() if k not in excluded} for row in rows]
    out = []
    for row in rows:
        projected: Doc = {} if "objectId" in excluded else {"objectId": row.get("objectId")}
        for name, expr in included.items():
            value = _path(row, name) if expr in (1, True) else _expression(row, expr)
            projected[ALIASES.get(name, name)] = value
        out.append(projected)
    return out


def _count(rows: list[Doc], spec: object) -> list[Doc]:
    if not isinstance(spec, str) or not spec or spec.startswith("$") or "." in spec:
        raise InvalidQuery("$count must name a field.")
    return [{spec: len(rows)}]


def _match(rows: list[Doc], spec: object) -> list[Doc]:
    if not isinstance(spec, dict):
        raise InvalidQuery("$match must be an object.")
    return [row for row in rows if _matches(row, spec)]


def _matches(row: Doc, where: Mapping[str, Any]) -> bool:
    for key, constraint in where.items():
        if key in ("$or", "$and", "$nor"):
            if not isinstance(constraint, list) or not all(isinstance(c, dict) for c in constraint):
                raise InvalidQuery(f"{key} must be an array of objects.")
            results = [_matches(row, clause) for clause in constraint]
            ok = any(results) if key == "$or" else all(results) if key == "$and" else not any(results)
        elif isinstance(constraint, dict) and constraint and all(str(op).startswith("$") for op in constraint):
            ok = all(_compare(_path(row, key), op, _plain(arg)) for op, arg in constraint.items())
        else:
            ok = _path(row, key) == _plain(constraint)
        if not ok:
            return False
    return True


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "$eq":
        return bool(actual == expected)
    if op == "$ne":
        return bool(actual != expected)
    if op in ("$in", "$nin"):
        if not isinstance(expected, list):
            raise InvalidQuery(f"{op} needs an array.")
        return (actual in [_plain(v) for v in expected]) == (op == "$in")
    if op == "$exists":
        return (actual is not None) == bool(expected)
    if op in ("$lt", "$lte", "$gt", "$gte"):
        if actual is None or _sort_key(actual)[0] != _sort_key(expected)[0]:
            return False
        a, b = _sort_key(actual), _sort_key(expected)
        return {"$lt": a < b, "$lte": a <= b, "$gt": a > b, "$gte": a >= b}[op]
    raise InvalidQuery(f"Unsupported operator {op[:32]} in $match.")


_STAGE_RUNNERS: Mapping[str, Callable[[list[Doc], Any], list[Doc]]] = {
    "$match": _match,
    "$group": _group,
    "$sort": _sort,
    "$limit": lambda rows, n: rows[: _count_of(n, "$limit")],
    "$skip": lambda rows, n: rows[_count_of(n, "$skip"):],
    "$project": _project,
    "$count": _count,
}
