"""The bare-endpoint baseline: what the Python stack alone serves, with none of Parse's rules.

A Starlette app on asyncpg and orjson, one uvicorn worker (uvloop, httptools), serving the benchmark's three
operations on a table shaped like Ballast's (``objectId`` primary key, typed columns, an index on ``bucket``) in
the same PostgreSQL. No keys, sessions, schema, ACL, triggers, events, logging or metrics: the ceiling each layer
of Ballast spends from. ``benchmarks/crud.py --targets bare,...`` reports Ballast's ratio to it in the same run.

    .venv/bin/python -m benchmarks.bare postgresql://postgres@127.0.0.1:5433/ballast_bench_bare 1400
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CLASS = "CrudBench"
TABLE = f'"{CLASS}"'
SCHEMA = (f'CREATE TABLE IF NOT EXISTS {TABLE} ("objectId" text PRIMARY KEY, "createdAt" timestamptz, '
          '"updatedAt" timestamptz, name text, score double precision, bucket double precision, '
          '_rperm text[], _wperm text[])',
          f'CREATE INDEX IF NOT EXISTS "{CLASS}_bucket_1" ON {TABLE} (bucket)')
INSERT = (f'INSERT INTO {TABLE} ("objectId", "createdAt", "updatedAt", name, score, bucket) '
          'VALUES ($1, $2, $2, $3, $4, $5)')
GET = f'SELECT * FROM {TABLE} WHERE "objectId" = $1'
QUERY = f'SELECT * FROM {TABLE} WHERE bucket = $1 ORDER BY "createdAt" DESC LIMIT 100'
JSON = "application/json"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wire(row: asyncpg.Record) -> dict[str, Any]:
    obj = {key: value for key, value in row.items() if value is not None and not key.startswith("_")}
    obj["createdAt"], obj["updatedAt"] = _iso(row["createdAt"]), _iso(row["updatedAt"])
    return obj


async def _keep(_: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is (autocommit reads and single inserts leave no state)."""


def build(dsn: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        # no reset query on release (asyncpg's default sends one per checkout): one round trip per request
        pool = await asyncpg.create_pool(dsn, min_size=8, max_size=32, reset=_keep)
        async with pool.acquire() as conn:
            for statement in SCHEMA:
                await conn.execute(statement)
        yield
        await pool.close()

    async def create(request: Request) -> Response:
        body = orjson.loads(await request.body())
        object_id, now = secrets.token_urlsafe(8)[:10], datetime.now(UTC)
        assert pool is not None
        await pool.execute(INSERT, object_id, now, body.get("name"), body.get("score"), body.get("bucket"))
        return Response(orjson.dumps({"objectId": object_id, "createdAt": _iso(now)}), 201, media_type=JSON)

    async def get(request: Request) -> Response:
        assert pool is not None
        row = await pool.fetchrow(GET, request.path_params["object_id"])
        if row is None:
            return Response(b'{"code":101,"error":"Object not found."}', 404, media_type=JSON)
        return Response(orjson.dumps(_wire(row)), media_type=JSON)

    async def query(request: Request) -> Response:
        assert pool is not None
        where = orjson.loads(request.query_params.get("where", "{}"))
        rows = await pool.fetch(QUERY, float(where.get("bucket", 0)))
        return Response(orjson.dumps({"results": [_wire(row) for row in rows]}), media_type=JSON)

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    return Starlette(lifespan=lifespan, routes=[
        Route("/parse/health", health), Route(f"/parse/classes/{CLASS}", create, methods=["POST"]),
        Route(f"/parse/classes/{CLASS}", query), Route(f"/parse/classes/{CLASS}/{{object_id}}", get),
    ])


async def seed(dsn: str, count: int, buckets: int) -> list[str]:
    """A fresh table of ``count`` rows (bucket = n mod ``buckets``), as the REST seeding makes; their ids."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        for statement in SCHEMA:
            await conn.execute(statement)
        now = datetime.now(UTC)
        rows = [(secrets.token_urlsafe(8)[:10], now, now, secrets.token_hex(6), float(n), float(n % buckets),
                 ["*"], ["*"]) for n in range(count)]
        await conn.copy_records_to_table(CLASS, records=rows, columns=[
            "objectId", "createdAt", "updatedAt", "name", "score", "bucket", "_rperm", "_wperm"])
        await conn.execute(f"ANALYZE {TABLE}")
    finally:
        await conn.close()
    return [row[0] for row in rows]


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), loop="uvloop", http="httptools",
                access_log=False, log_level="warning")
