"""JSON responses rendered with orjson (Parse bodies are plain JSON, never pydantic models)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class ParseJSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def created(body: dict[str, Any], location: str) -> ParseJSON:
    return ParseJSON(body, status_code=201, headers={"Location": location})
