"""Query-string parameters of a Parse find, as FindOptions (JSON values decoded here)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from backend import jsontext
from backend.errors import InvalidJSON
from backend.services.data.objects import FindOptions

MAX_PARAM_LENGTH = 1_000_000


def _json(name: str, raw: str | None) -> Any:
    if raw is None:
        return None
    if len(raw) > MAX_PARAM_LENGTH:
        raise InvalidJSON(f"{name} is too long.")
    try:
        return jsontext.parse(raw)
    except jsontext.JSONDecodeError as error:
        raise InvalidJSON(f"{name} is not valid JSON.") from error


def _int(name: str, raw: str | None, default: int) -> Any:
    if raw is None or raw == "":
        return default
    value = _json(name, raw)
    return value


def find_options(request: Request) -> FindOptions:
    params = request.query_params
    count = params.get("count")
    return FindOptions(
        where=_json("where", params.get("where")),
        order=params.get("order"),
        limit=_int("limit", params.get("limit"), 100),
        skip=_int("skip", params.get("skip"), 0),
        keys=params.get("keys"),
        exclude_keys=params.get("excludeKeys"),
        include=params.get("include"),
        count=count not in (None, "", "0", "false"),
        redirect_class_name_for_key=params.get("redirectClassNameForKey"),
    )


def find_response(results: list[dict[str, Any]], count: int | None, class_name: str | None) -> dict[str, Any]:
    # a relation query (redirectClassNameForKey) names the target class on each result, as parse-server
    body: dict[str, Any] = {"results": results if class_name is None else [
        {**result, "className": class_name} for result in results]}
    if count is not None:
        body["count"] = count
    return body
