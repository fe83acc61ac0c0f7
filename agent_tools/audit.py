"""The audit trail: one hash-chained record per tool call, appended inside the caller's unit.

Each record's canonical JSON body holds the previous record's hash; the chain
head (``_AuditHead``) is row-locked while a record is appended, so appends are
serialised across requests and instances. A write's record is appended in the
write's own unit, so the two commit or roll back together (DESIGN.md rule 4).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_tools.records import AUDIT_HEAD, TOOL_CALL, Records
from agent_tools.registry import ALWAYS_REDACTED
from backend import wire
from backend.services.units import Database, Unit

GENESIS = "0" * 64
INDEXED = ("agentId", "runId", "tool", "decision", "outcome", "idempotencyKey", "approvalId")
PAGE = 500


def canonical(body: dict[str, Any]) -> str:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


def chain_hash(prev: str, text: str) -> str:
    return hashlib.sha256((prev + text).encode()).hexdigest()


def scrub(value: Any) -> Any:
    """Inputs as the audit keeps them: no secret-named fields, at any depth (rule 8)."""
    if isinstance(value, dict):
        return {key: ("[redacted]" if key in ALWAYS_REDACTED else scrub(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


@dataclass
class VerifyReport:
    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problems": self.problems}


class AuditLog:
    """Append, query, export and verify the chain of tool-call records."""

    def __init__(self, db: Database, records: Records) -> None:
        self.db = db
        self.records = records
        self._head_id: str | None = None
        self._last: tuple[int, str] | None = None  # (seq, hash) of the last record this process committed
        self._queue: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def ensure_head(self) -> None:
        head = await self.records.first(AUDIT_HEAD, {}, order="createdAt,objectId")
        if head is None:
            head = await self.records.create(AUDIT_HEAD, {"seq": 0, "hash": GENESIS})
            # two instances starting at once may both create one: everyone uses the oldest
            head = await self.records.first(AUDIT_HEAD, {}, order="createdAt,objectId") or head
        self._head_id = head["objectId"]

    async def append(self, unit: Unit, entry: dict[str, Any]) -> dict[str, Any]:
        """Chain one record into ``unit``; answers the record's body with its seq and hash."""
        return (await self.append_many(unit, [entry]))[0]

    async def append_many(self, unit: Unit, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain records into ``unit``, in order; the head is locked (and so appends serialised) until it ends.

        When this process committed the last record, its (seq, hash) is known: the records are built first and
        one update of the head both locks it and moves it. If the head says otherwise (another instance
        appended), the records are rebuilt on the true last record, still under the lock.
        """
        assert self._head_id is not None, "AuditLog.ensure_head() first"
        count, known = len(entries), self._last
        built = _build(known[0], known[1], entries) if known else None
        change: dict[str, Any] = {"seq": {"__op": "Increment", "amount": count}}
        if built:
            change["hash"] = built[-1]["hash"]
        bumped = await self.records.update(AUDIT_HEAD, self._head_id, change, unit=unit)  # locks the head
        start = int(bumped["seq"]) - count
        if built is None or known is None or known[0] != start:
            built = _build(start, await self._hash_at(unit, start, built is None), entries)
            await self.records.update(AUDIT_HEAD, self._head_id, {"hash": built[-1]["hash"]}, unit=unit)
        for body in built:
            indexed = {key: body[key] for key in INDEXED if isinstance(body.get(key), str)}
            text = canonical({key: value for key, value in body.items() if key != "hash"})
            await self.records.create(TOOL_CALL, {"seq": body["seq"], "body": text, "hash": body["hash"], **indexed},
                                      unit=unit)
        last = (built[-1]["seq"], built[-1]["hash"])
        unit.after_commit(lambda: setattr(self, "_last", last))
        return built

    async def _hash_at(self, unit: Unit, seq: int, head_intact: bool) -> str:
        """The hash of record ``seq`` (the last one before ours), read under the head's lock."""
        if seq == 0:
            return GENESIS
        if head_intact:
            assert self._head_id is not None
            head = await self.records.get(AUDIT_HEAD, self._head_id, unit=unit)
            return str(head.get("hash") or GENESIS)
        found = await self.records.first(TOOL_CALL, {"seq": seq}, unit=unit)
        return str(found["hash"]) if found else GENESIS

    async def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a record of a call that changed nothing, and wait until it is committed.

        Records that arrive together are committed together (group commit): one lock of the head and one
        transaction for all of them, where each alone would take its own.
        """
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self.db.unit() as unit:
                    bodies = await self.append_many(unit, [entry for entry, _ in batch])
            except Exception:  # noqa: BLE001 - isolate the failing record: the others still get theirs
                if len(batch) == 1:
                    _settle(batch, error=sys.exc_info()[1])
                    continue
                await self._one_by_one(batch)
                continue
            _settle(batch, bodies)

    async def _one_by_one(self, batch: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]]) -> None:
        for entry, future in batch:
            try:
                async with self.db.unit() as unit:
                    body = await self.append(unit, entry)
            except Exception as error:  # noqa: BLE001
                _settle([(entry, future)], error=error)
            else:
                _settle([(entry, future)], [body])

    async def find_key(self, agent_id: str, key: str, unit: Unit | None = None) -> dict[str, Any] | None:
        """The first successful call of this agent with this idempotency key."""
        found = await self.records.first(
            TOOL_CALL, {"agentId": agent_id, "idempotencyKey": key}, order="seq", unit=unit
        )
        return orjson.loads(found["body"]) if found else None

    async def query(self, filters: dict[str, Any], limit: int = 100, skip: int = 0) -> list[dict[str, Any]]:
        """Records matching agentId/runId/tool/decision/outcome and a time range (since/until ISO)."""
        where: dict[str, Any] = {key: value for key, value in filters.items() if key in INDEXED and value}
        span = {op: {"__type": "Date", "iso": filters[key]} for key, op in (("since", "$gte"), ("until", "$lt"))
                if filters.get(key)}
        if span:
            where["createdAt"] = span
        rows = await self.records.find(TOOL_CALL, where, order="seq", limit=limit, skip=skip)
        return [orjson.loads(row["body"]) | {"hash": row["hash"]} for row in rows]

    async def export(self, filters: dict[str, Any]) -> AsyncIterator[str]:
        """JSON Lines, oldest first."""
        skip = 0
        while True:
            page = await self.query(filters, PAGE, skip)
            for body in page:
                yield canonical(body) + "\n"
            if len(page) < PAGE:
                return
            skip += PAGE

    async def verify(self) -> VerifyReport:
        """Walk the whole chain: order, links, hashes, indexed copies, and the head."""
        report = VerifyReport(True, 0)
        prev, seq = GENESIS, 0
        async for row in self._rows():
            seq += 1
            report.records += 1
            _check_row(row, seq, prev, report)
            prev = str(row.get("hash"))
        head = await self.records.first(AUDIT_HEAD, {}, order="createdAt,objectId")
        if head is not None and (int(head.get("seq", 0)) != seq or head.get("hash") != prev):
            _fail(report, f"chain head says seq {head.get('seq')}, records end at {seq}: records were removed")
        return report

    async def _rows(self) -> AsyncIterator[dict[str, Any]]:
        last = 0
        while True:
            page = await self.records.find(TOOL_CALL, {"seq": {"$gt": last}}, order="seq", limit=PAGE)
            for row in page:
                yield row
            if len(page) < PAGE:
                return
            last = int(page[-1]["seq"])


def _build(after: int, prev: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies (with their hashes) of ``entries`` chained after record ``after`` whose hash is ``prev``."""
    built = []
    for offset, entry in enumerate(entries, start=1):
        body = _body(after + offset, prev, entry)
        prev = chain_hash(prev, canonical(body))
        built.append(body | {"hash": prev})
    return built


def _body(seq: int, prev: str, entry: dict[str, Any]) -> dict[str, Any]:
    body = {"seq": seq, "prev": prev, "time": wire.format_iso(wire.now())}
    body |= {key: value for key, value in entry.items() if value is not None}
    body["input"] = scrub(body.get("input"))
    return body


def _settle(batch: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]],
            bodies: list[dict[str, Any]] | None = None, error: BaseException | None = None) -> None:
    for index, (_, future) in enumerate(batch):
        if future.done():
            continue
        if bodies is not None:
            future.set_result(bodies[index])
        else:
            future.set_exception(error or RuntimeError("audit append failed"))


def _check_row(row: dict[str, Any], seq: int, prev: str, report: VerifyReport) -> None:
    where = f"record {row.get('seq')} ({row.get('objectId')})"
    if int(row.get("seq", -1)) != seq:
        _fail(report, f"{where}: expected seq {seq}; a record is missing or was inserted")
    text = str(row.get("body", ""))
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        _fail(report, f"{where}: body is not JSON")
        return
    if body.get("prev") != prev:
        _fail(report, f"{where}: does not link to the record before it")
    if chain_hash(str(body.get("prev")), text) != row.get("hash"):
        _fail(report, f"{where}: hash does not match its content (tampered)")
    for key in INDEXED:
        if row.get(key) != (body.get(key) if isinstance(body.get(key), str) else None):
            _fail(report, f"{where}: field {key} differs from the hashed record (tampered)")


def _fail(report: VerifyReport, problem: str) -> None:
    report.ok = False
    if len(report.problems) < 50:
        report.problems.append(problem)
