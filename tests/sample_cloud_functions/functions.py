"""Sample cloud functions the tests load (like Datasette's tests/plugins): one of each shape."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.cloud import Request, cloud


@cloud.define("hello")
async def hello(req: Request) -> str:
    return f"Hello, {req.params.get('name', 'world')}!"


@cloud.define("whoami")
async def whoami(req: Request) -> dict[str, Any]:
    return {
        "user": (req.user or {}).get("objectId"), "master": req.master, "installationId": req.installation_id,
        "context": req.context, "hasMasterKeyHeader": "x-parse-master-key" in req.headers,
    }


@cloud.define("echoHeaders")
def echo_headers(req: Request) -> dict[str, str]:
    return dict(req.headers)


@cloud.define("syncAdd", fields={"a": {"type": int, "required": True}, "b": {"type": int, "default": 1}})
def sync_add(req: Request) -> int:
    return int(req.params["a"]) + int(req.params["b"])


@cloud.define("pickColor", fields={"color": {"type": str, "required": True, "options": ["red", "green"]}})
async def pick_color(req: Request) -> str:
    return str(req.params["color"])


@cloud.define("needsUser", require_user=True)
async def needs_user(req: Request) -> str:
    return "ok"


@cloud.define("needsMaster", require_master=True)
async def needs_master(req: Request) -> str:
    return "ok"


@cloud.define("refuses")
async def refuses(req: Request) -> None:
    raise cloud.Error(cloud.VALIDATION_ERROR, "not today")


@cloud.define("crashes")
async def crashes(req: Request) -> None:
    raise RuntimeError("secret internal detail /etc/shadow")


@cloud.define("silent")
async def silent(req: Request) -> None:
    """Returns nothing: Parse answers {} and the SDK resolves to undefined."""


@cloud.define("sleeps")
async def sleeps(req: Request) -> str:
    await asyncio.sleep(float(req.params.get("seconds", 1)))
    return "woke up"


@cloud.define("countReviews")
async def count_reviews(req: Request) -> int:
    return int(await req.db.count("CloudReview", {"movie": req.params.get("movie")}))


@cloud.define("tidyUp", agent_callable=True, risk="medium")
async def tidy_up(req: Request) -> str:
    return "tidied"


@cloud.define("chatty")
async def chatty(req: Request) -> str:
    """Logs as cloud code does (Parse's console.log / request.log): what /scriptlog shows."""
    req.log.info("chatty says %s", req.params.get("word", "hi"))
    req.log.warning("careful with %s", req.params.get("secret", "nothing"))
    if req.params.get("fail"):
        raise RuntimeError("chatty broke")
    return "ok"
