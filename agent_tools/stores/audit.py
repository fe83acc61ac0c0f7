"""The audit trail: one hash-chained record per tool call, appended inside the caller's unit.

Records form CHAINS independent hash chains. Chain ``c`` numbers its records ``c * SPAN + 1, + 2, ...`` (so a
``seq`` is unique across chains and chain 0 is the original single chain); each record's canonical JSON body
holds the hash of the record before it IN ITS CHAIN. A chain's head (``_AuditHead`` with ``chain: c``) is
row-locked while a record is appended, so each chain is a line across requests and instances; a write holds
its chain's head until it commits, so several chains let concurrent writes commit side by side instead of
queueing on one row lock. A write's record is appended in the write's own unit, so the two commit or roll
back together (docs/architecture.md rule 4). ``verify`` walks every chain and checks every head.

The head a process committed last is kept (seq, hash) and trusted on its next append to that chain: the head
row is then updated without being read first (the update still takes its row lock; on PostgreSQL it is part of
the records' INSERT statement). Had another instance
appended to the chain meanwhile, its records hold the seqs the new ones would take, and the unique seq index
refuses them: the unit rolls back (``ChainMoved``), the call runs again, and this process reads heads under
their lock for a while. Records of reads are group-committed by up to DRAINERS batches at once.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_tools.model import keyset
from agent_tools.model.bounds import audit_form
from agent_tools.stores.classes import AUDIT_HEAD, TOOL_CALL, Records
from backend import wire
from backend.errors import DuplicateValue, WriteConflict
from backend.services.data.appends import Appender
from backend.services.shared.units import Database, Unit

GENESIS = "0" * 64
CHAINS = 16  # more than the writes one instance commits at once, so a write rarely waits for a free chain
SPAN = 10**12  # seqs per chain: chain c holds c*SPAN+1...; exact in a double (Parse Numbers) for 9000 chains
INDEXED = ("agentId", "runId", "tool", "decision", "outcome", "idempotencyKey", "approvalId", "rule")
PAGE = 500
DISTRUST_SECONDS = 30.0  # after a chain moved under this process, heads are read under their lock this long
ATTEMPTS = 3  # runs of a unit the database rolled back (deadlock, serialization) before the failure is told
DRAINERS = 2  # batches of records of reads (group commit) committing at once
_Queued = tuple[dict[str, Any], "asyncio.Future[dict[str, Any]]", tuple[str, bytes] | None]


RESULT_KEPT = 256 * 1024  # of an idempotent write's result, what the record keeps to answer its retry


def canonical(body: dict[str, Any]) -> str:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


def chain_hash(prev: str, text: str) -> str:
    return hashlib.sha256((prev + text).encode()).hexdigest()


class RunAgain(Exception):
    """The call's unit rolled back for a reason that running it again resolves."""


class AgentChanged(RunAgain):
    """The agent a call was admitted on changed before its record committed: run the call again."""


class ChainMoved(RunAgain):
    """Another instance appended to the chain this process trusted its cached head of: run the call again."""


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
        self.appender = Appender(records.schemas)
        self._heads: dict[int, str] = {}  # chain -> its head's objectId
        self._known: dict[int, tuple[int, str]] = {}  # chain -> (seq, hash) of the head this process committed
        self._trust_after = 0.0  # after another instance's append moved a chain: read heads locked until then
        self._free: list[int] = []  # chains no unit of this process holds; the lowest is taken first
        self._held: dict[int, int] = {}  # id(unit) -> the chain that unit appends to, until it ends
        self._waiters: list[asyncio.Future[None]] = []
        self._queue: list[_Queued] = []
        # agent_tools.stores.agents.AgentStore.confirm: which (agent id, standing) no longer hold, read in a unit
        self.confirmer: Callable[[Unit, list[tuple[str, bytes]]], Awaitable[set[tuple[str, bytes]]]] | None = None
        self._drainers: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Task[None] | None = None  # a drainer made that has not taken its batch yet

    async def ensure_head(self) -> None:
        """Find (or make) the head of every chain; a head without ``chain`` is chain 0's (one chain before)."""
        heads = await self._load_heads()
        for chain in range(CHAINS):
            if chain not in heads:
                await self.records.create(AUDIT_HEAD, {"chain": chain, "seq": chain * SPAN, "hash": GENESIS})
        # two instances starting at once may both create one: everyone uses the oldest
        self._heads = await self._load_heads()
        self._free = sorted(self._heads)

    async def _load_heads(self) -> dict[int, str]:
        heads: dict[int, str] = {}
        for head in await self.records.find(AUDIT_HEAD, {}, order="createdAt,objectId", limit=1000):
            heads.setdefault(int(head.get("chain") or 0), head["objectId"])
        return heads

    async def append(self, unit: Unit, entry: dict[str, Any]) -> dict[str, Any]:
        """Chain one record into ``unit``; answers the record's body with its seq and hash."""
        return (await self.append_many(unit, [entry]))[0]

    async def append_many(self, unit: Unit, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain records into ``unit``, in order, on a chain this unit holds until it ends.

        The chain's head is locked and read (its last seq and hash), moved past the new records, and the
        records inserted: all in ``unit``, so they commit or roll back with it, and another instance appending
        to the same chain waits on the head's row lock.
        """
        assert self._heads, "AuditLog.ensure_head() first"
        chain = await self._take(unit)
        head_id = self._heads[chain]
        cached = self._known.pop(chain, None) if time.monotonic() >= self._trust_after else None
        known = cached
        if known is None:
            head = await self.appender.lock(unit, AUDIT_HEAD, head_id)
            if head is None:
                raise RuntimeError(f"audit chain head {chain} is gone")
            known = (int(head.get("seq") or 0), str(head.get("hash") or GENESIS))
        built, texts = _build(known[0], known[1], entries)
        # moving the head (in the records' INSERT on PostgreSQL) takes its row lock, so another instance
        # appending to this chain waits, locked read first or not: a head this process committed last is
        # trusted without re-reading it; had another instance appended since, its records hold the seqs ours
        # would take and the insert below fails
        await self.appender.set_later(unit, AUDIT_HEAD, head_id, {"seq": built[-1]["seq"], "hash": built[-1]["hash"]})
        rows = [{"seq": body["seq"], "body": text, "hash": body["hash"]}
                | {key: body[key] for key in INDEXED if isinstance(body.get(key), str)}
                for body, text in zip(built, texts, strict=True)]
        try:
            await self.appender.insert_many(unit, TOOL_CALL, rows)
        except DuplicateValue:
            if cached is None:
                raise  # the head was read under its lock: a racing retry's idempotency key, not a moved chain
            self._known.clear()  # another instance writes these chains: read heads under the lock a while
            self._trust_after = time.monotonic() + DISTRUST_SECONDS
            raise ChainMoved() from None
        last = (int(built[-1]["seq"]), str(built[-1]["hash"]))
        unit.after_commit(lambda: self._known.__setitem__(chain, last))
        return built

    async def _take(self, unit: Unit) -> int:
        """A chain for ``unit`` (the one it already holds, or the lowest free one), given back when it ends."""
        if (held := self._held.get(id(unit))) is not None:
            return held
        while not self._free:  # every chain is held by a unit that has appended and is committing: wait
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        chain = self._free.pop(0)
        self._held[id(unit)] = chain

        def give_back() -> None:
            if self._held.get(id(unit)) != chain:
                return
            del self._held[id(unit)]
            bisect.insort(self._free, chain)
            while self._waiters:
                waiter = self._waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(None)
                    return

        unit.after_commit(give_back)
        unit.on_rollback(give_back)
        return chain

    async def record(self, entry: dict[str, Any], confirm: tuple[str, bytes] | None = None) -> dict[str, Any]:
        """Append a record of a call that changed nothing, and wait until it is committed.

        Records that arrive together are committed together (group commit): one lock of the head and one
        transaction for all of them, where each alone would take its own. ``confirm``: the (agent id,
        standing) the call was admitted on; should the committed agent row differ, in the record's own
        transaction, no record is written and ``AgentChanged`` is raised (the caller runs the call again).
        """
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future, confirm))
        self._drainers = {task for task in self._drainers if not task.done()}
        starting = self._starting is not None and not self._starting.done()
        if not starting and len(self._drainers) < DRAINERS:
            self._starting = asyncio.create_task(self._drain())  # takes everything queued until it starts
            self._drainers.add(self._starting)
        return await future

    async def _drain(self) -> None:
        """Commit queued records in batches, each in its own unit on its own chain, while any are queued.

        Up to DRAINERS batches commit side by side: a record need not wait for the one batch in flight to
        commit before its own starts (every batch holds its own chain, so they do not queue on one head).
        """
        self._starting = None
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                kept, bodies = await self._commit(batch)
            except Exception as error:  # noqa: BLE001 - isolate the failing record: the others still get theirs
                if len(batch) == 1 and not isinstance(error, ChainMoved):
                    _settle(batch, error=sys.exc_info()[1])
                    continue
                await self._one_by_one(batch)
                continue
            _settle(kept, bodies)

    async def _commit(self, batch: list[_Queued]) -> tuple[list[_Queued], list[dict[str, Any]]]:
        """Append the batch's records (of agents still as their calls saw them) in a unit of their own.

        A unit the database rolled back to break a deadlock or a serialization conflict wrote nothing (its
        records and its head's move went together, so the chain is as before): run it again, a few times.
        """
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.db.unit() as unit:
                    kept = await self._confirmed(unit, batch)
                    return kept, await self.append_many(unit, [entry for entry, _, _ in kept]) if kept else []
            except WriteConflict:
                if attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _confirmed(self, unit: Unit, batch: list[_Queued]) -> list[_Queued]:
        """The batch's records whose agents are still as their calls saw them; the others get AgentChanged."""
        seen = [confirm for _, _, confirm in batch if confirm is not None]
        if not seen or self.confirmer is None:
            return batch
        changed = await self.confirmer(unit, seen)
        kept = []
        for queued in batch:
            if queued[2] is not None and queued[2] in changed:
                if not queued[1].done():
                    queued[1].set_exception(AgentChanged())
            else:
                kept.append(queued)
        return kept

    async def _one_by_one(self, batch: list[_Queued]) -> None:
        for queued in batch:
            try:
                kept, bodies = await self._commit([queued])
            except Exception as error:  # noqa: BLE001
                _settle([queued], error=error)
            else:
                _settle(kept, bodies)

    async def find_key(self, agent_id: str, key: str, unit: Unit | None = None) -> dict[str, Any] | None:
        """The first successful call of this agent with this idempotency key."""
        found = await self.records.first(
            TOOL_CALL, {"agentId": agent_id, "idempotencyKey": key}, order="seq", unit=unit
        )
        return orjson.loads(found["body"]) if found else None

    async def query(self, filters: dict[str, Any], limit: int = 100, skip: int = 0,
                    newest_first: bool = False) -> list[dict[str, Any]]:
        """Records matching agentId/runId/tool/decision/outcome and a time range (since/until ISO)."""
        return (await self.page(filters, limit, None, newest_first, skip))[0]

    async def page(self, filters: dict[str, Any], limit: int, cursor: str | None, newest_first: bool = False,
                   skip: int = 0) -> tuple[list[dict[str, Any]], str | None]:
        """A page of matching records after ``cursor`` (keyset: agent_tools/model/keyset.py), and the next page's."""
        where: dict[str, Any] = {key: value for key, value in filters.items() if key in INDEXED and value}
        span = {op: {"__type": "Date", "iso": filters[key]} for key, op in (("since", "$gte"), ("until", "$lt"))
                if filters.get(key)}
        if span:
            where["createdAt"] = span
        if cursor:
            where = {"$and": [where, keyset.after(cursor, "createdAt", "seq", descending=newest_first, numeric=True)]}
        # chains interleave in time: time order (seq breaks ties, and orders a chain's records)
        order = "-createdAt,-seq" if newest_first else "createdAt,seq"
        rows = await self.records.find(TOOL_CALL, where, order=order, limit=limit + 1, skip=skip)
        last = rows[limit - 1] if len(rows) > limit else None
        following = keyset.cursor_of(last["createdAt"], last["seq"]) if last else None
        return [orjson.loads(row["body"]) | {"hash": row["hash"]} for row in rows[:limit]], following

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
        """Walk every chain: order, links, hashes, indexed copies, and each chain's head."""
        report = VerifyReport(True, 0)
        ends: dict[int, tuple[int, str]] = {}  # chain -> (seq, hash) of its last record so far
        async for row in self._rows():
            report.records += 1
            chain = int(row.get("seq", 0)) // SPAN
            seq, prev = ends.get(chain, (chain * SPAN, GENESIS))
            _check_row(row, seq + 1, prev, report)
            ends[chain] = (int(row.get("seq", 0)), str(row.get("hash")))
        heads: dict[int, dict[str, Any]] = {}
        for head in await self.records.find(AUDIT_HEAD, {}, order="createdAt,objectId", limit=1000):
            heads.setdefault(int(head.get("chain") or 0), head)
        for chain in sorted(set(heads) | set(ends)):
            seq, last = ends.get(chain, (chain * SPAN, GENESIS))
            found = heads.get(chain)
            if found is None:
                _fail(report, f"chain {chain} has records but no head: its head was removed")
            elif int(found.get("seq", 0)) != seq or found.get("hash") != last:
                _fail(report, f"chain {chain} head says seq {found.get('seq')}, records end at {seq}: "
                              "records were removed")
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


def _build(after: int, prev: str, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The bodies (with their hashes) of ``entries`` chained after record ``after`` whose hash is ``prev``,
    and the canonical text of each (what its hash covers, and what is stored)."""
    built, texts = [], []
    for offset, entry in enumerate(entries, start=1):
        body = _body(after + offset, prev, entry)
        text = canonical(body)
        prev = chain_hash(prev, text)
        built.append(body | {"hash": prev})
        texts.append(text)
    return built, texts


def _body(seq: int, prev: str, entry: dict[str, Any]) -> dict[str, Any]:
    body = {"seq": seq, "prev": prev, "time": wire.format_iso(wire.now())}
    body |= {key: value for key, value in entry.items() if value is not None}
    body["input"] = audit_form(body.get("input"))  # bounded: no input can make its record fail
    if "result" in body:  # kept for an idempotent retry's answer; a huge or deep one as its hash
        body["result"] = audit_form(body["result"], keep=RESULT_KEPT)
    return body


def recordable(entry: dict[str, Any]) -> bool:
    """Whether this entry's record can be written (serialised): checked before a tool with effects outside
    the unit (a cloud function) runs, so it never runs without its record."""
    try:
        canonical(_body(0, "", entry))
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return False
    return True


def _settle(batch: list[_Queued], bodies: list[dict[str, Any]] | None = None,
            error: BaseException | None = None) -> None:
    for index, (_, future, _) in enumerate(batch):
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
