"""The benchmark's class: a fresh schema with an index on ``bucket``, seeded with N objects.

Every server gets the same class, fields, index and objects, made through its
own REST API (schema API for the index; SQL only when a server has no schema
API yet). Seeded objects have ``bucket`` in [0, 1000), so an indexed query
``{"bucket": k}`` matches about N/1000 of them; objects the create benchmark adds
use bucket -1 and never change what the query returns.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import string
from typing import Any

import asyncpg
import httpx
import orjson

from benchmarks.servers import Target

CLASS = "CrudBench"
BUCKETS = 1000
FIELDS = {"name": {"type": "String"}, "score": {"type": "Number"}, "bucket": {"type": "Number"}}
INDEX = {"bucket_1": {"bucket": 1}}
BATCH = 50


def new_object(n: int, bucket: int | None = None) -> dict[str, Any]:
    name = "".join(random.choices(string.ascii_lowercase, k=12))
    return {"name": name, "score": n, "bucket": n % BUCKETS if bucket is None else bucket}


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                body: Any = None) -> httpx.Response:
    content = orjson.dumps(body) if body is not None else None
    return await client.request(method, url, headers=headers, content=content)


async def reset_class(client: httpx.AsyncClient, target: Target) -> bool:
    """Empty and drop the class, then make it with its fields and index; False when no schema API."""
    master = target.headers(master=True)
    schema_url = f"{target.url}/schemas/{CLASS}"
    probe = await _call(client, "GET", schema_url, master)
    if probe.status_code == 404 and probe.json().get("code") != 103:
        return False  # this server has no schema API (code 103 would be: no such class)
    if probe.status_code == 200:
        await _call(client, "DELETE", f"{target.url}/purge/{CLASS}", master)
        dropped = await _call(client, "DELETE", schema_url, master)
        dropped.raise_for_status()
    created = await _call(client, "POST", schema_url, master, {"className": CLASS, "fields": FIELDS})
    _expect(created, "create the class")
    indexed = await _call(client, "PUT", schema_url, master, {"className": CLASS, "indexes": INDEX})
    _expect(indexed, "add the index")
    return True


def _expect(response: httpx.Response, what: str) -> None:
    if not response.is_success:
        raise RuntimeError(f"could not {what}: {response.status_code} {response.text[:300]}")


async def seed(client: httpx.AsyncClient, target: Target, count: int, concurrency: int = 8) -> list[str]:
    """Create ``count`` objects (batches of 50 when /batch works, else one by one); their ids."""
    headers = target.headers(master=True)
    probe = await _call(client, "POST", f"{target.url}/batch", headers, {"requests": []})
    use_batch = probe.is_success
    ids: list[str] = []
    numbers = iter(range(count))
    size = BATCH if use_batch else 1

    async def worker() -> None:
        while chunk := [n for _, n in zip(range(size), numbers, strict=False)]:
            if use_batch:
                ids.extend(await _create_batch(client, target, headers, chunk))
            else:
                response = await _call(client, "POST", f"{target.url}/classes/{CLASS}", headers, new_object(chunk[0]))
                _expect(response, "seed an object")
                ids.append(response.json()["objectId"])

    await asyncio.gather(*(worker() for _ in range(concurrency if use_batch else 4 * concurrency)))
    return ids


async def _create_batch(client: httpx.AsyncClient, target: Target, headers: dict[str, str],
                        numbers: list[int]) -> list[str]:
    path = "/" + target.url.split("/", 3)[3] + f"/classes/{CLASS}"
    requests = [{"method": "POST", "path": path, "body": new_object(n)} for n in numbers]
    response = await _call(client, "POST", f"{target.url}/batch", headers, {"requests": requests})
    _expect(response, "seed a batch")
    answers = response.json()
    failed = [answer for answer in answers if "success" not in answer]
    if failed:
        raise RuntimeError(f"seeding failed: {failed[0]}")
    return [answer["success"]["objectId"] for answer in answers]


async def count_objects(client: httpx.AsyncClient, target: Target) -> int:
    # a where clause: without one, Parse Server on PostgreSQL answers an estimate from pg_class
    params = {"count": "1", "limit": "0", "where": '{"score":{"$gte":0}}'}
    response = await client.get(f"{target.url}/classes/{CLASS}", headers=target.headers(master=True), params=params)
    _expect(response, "count the objects")
    return int(response.json()["count"])


async def sql_index(target: Target) -> None:
    """The same index in SQL, for a server that has no schema API yet."""
    statement = f'CREATE INDEX IF NOT EXISTS "{CLASS}_bucket_1" ON "{CLASS}" ("bucket")'
    if target.sqlite_path is not None:
        with sqlite3.connect(target.sqlite_path) as conn:
            conn.execute(statement)
    elif target.sql_url is not None:
        conn = await asyncpg.connect(target.sql_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


async def indexes(target: Target) -> list[str]:
    """The index definitions on the class's table, read from the database (proof both have it)."""
    if target.sqlite_path is not None:
        with sqlite3.connect(target.sqlite_path) as conn:
            rows = conn.execute("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=?", (CLASS,))
            return [row[0] for row in rows if row[0]]
    if target.sql_url is None:
        return []
    conn = await asyncpg.connect(target.sql_url)
    try:
        rows = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", CLASS)
    finally:
        await conn.close()
    return [row["indexdef"] for row in rows]
