"""PostgreSQL: a rule change committed on one instance is obeyed by every instance before A answers it.

Schemas (classes, fields, CLPs, protected fields, indexes) are cached per instance and reloaded when the
instance's *stamp* changes (``Store.schema_stamp``, compared as every unit of work opens, with no round trip).
Two mechanisms make that exact across instances on one database (docs/rule-changes.md has the full argument):

- **Leases.** Every ``RENEW_EVERY`` seconds an instance's listener connection runs two autocommit statements:
  (a) upsert its row of ``ballast_schema_leases`` with ``expires_at = clock_timestamp() + LEASE``, then (b) read
  the database's stamp. Only after (b) answers does the instance trust its cache until ``LEASE`` after it SENT
  (a) (its own monotonic clock), bumping its stamp first if (b) read a new one. Past that, or without a
  listener, ``current()`` is false and every unit reloads the schemas: a hung or cut-off instance never uses
  cached rules longer than its lease.
- **Acknowledged change.** Just before commit, the changing transaction increments the database's stamp, takes
  ``LOCK TABLE ballast_schema_leases IN SHARE MODE`` (conflicts with (a)'s ROW EXCLUSIVE: it waits for renewals
  in flight to commit and holds new ones until this commit), reads every other live lease's remaining time from
  the database clock, and NOTIFYs. After commit, A waits until each of those instances has ACKed (it bumped its
  stamp on the NOTIFY) or its remaining lease has passed on A's clock; only then does the request answer.

Why exact: take instance B and the change C. Either B's latest committed (a) preceded C's lock, so C read that
lease and A waits for B's ack or for its expiry, and B's own lease (counted from before (a) was sent) ends no
later; or B's next (a) waited for C's commit, so the (b) after it reads C's stamp and B bumps before extending its
lease. In both cases, once A answers, any request B opens either reloads (lease over) or sees C's stamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA_CHANNEL = "ballast_schema"
ACK_CHANNEL = "ballast_schema_ack"
LEASE = 1.5  # seconds an instance may trust its cached rules after sending a renewal
RENEW_EVERY = 0.25
RENEW_TIMEOUT = 5.0  # a renewal hung this long (a silent network) drops the connection; the next one reconnects
# added to A's wait on each lease: the two clocks (database and A) may run at slightly different rates (NTP slews
# by at most 0.05%), and the wait is the only place where a lease is measured on another machine's clock
MARGIN = 0.02
# A lease that ran out PRUNE_AFTER ago is a crashed (or that long hung) process's: its row goes, on start and
# every PRUNE_EVERY. Far beyond MARGIN, so only rows that no change reads (_LIVE) are ever removed; a renewal
# racing the DELETE either commits first (the DELETE re-checks the row and keeps it) or re-inserts after it.
PRUNE_AFTER = 60.0
PRUNE_EVERY = 60.0

TABLES = (
    "CREATE TABLE IF NOT EXISTS ballast_schema_leases (instance text PRIMARY KEY, expires_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ballast_schema_stamp (id int PRIMARY KEY CHECK (id = 1), stamp bigint NOT NULL)",
    "INSERT INTO ballast_schema_stamp VALUES (1, 0) ON CONFLICT DO NOTHING",
)
_RENEW = ("INSERT INTO ballast_schema_leases VALUES ($1, clock_timestamp() + make_interval(secs => $2)) "
          "ON CONFLICT (instance) DO UPDATE SET expires_at = EXCLUDED.expires_at")
_PRUNE = "DELETE FROM ballast_schema_leases WHERE expires_at < clock_timestamp() - make_interval(secs => $1)"
_READ_STAMP = "SELECT stamp FROM ballast_schema_stamp WHERE id = 1"
_BUMP = sa.text("UPDATE ballast_schema_stamp SET stamp = stamp + 1 WHERE id = 1 RETURNING stamp")
_LOCK = sa.text("LOCK TABLE ballast_schema_leases IN SHARE MODE")
# rows that ran out longer than MARGIN ago are ignored (a crashed instance's row is harmless once expired)
_LIVE = sa.text("SELECT instance, extract(epoch FROM expires_at - clock_timestamp())::float8 "
                "FROM ballast_schema_leases WHERE instance <> :me "
                "AND expires_at > clock_timestamp() - make_interval(secs => :margin)")
_NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")

# what a lost or broken listener connection raises: the lease lapses, a later renewal reconnects
_LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
log = logging.getLogger("ballast.storage.rules")
# CLOCK_BOOTTIME keeps counting while the machine sleeps (CLOCK_MONOTONIC does not on Linux): a lease outlives
# no suspend
clock: Callable[[], float] = (
    (lambda: time.clock_gettime(time.CLOCK_BOOTTIME)) if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic)


@dataclass(frozen=True)
class Pending:
    """A committed change's stamp and, per other live instance, when A stops waiting for its ack (A's clock)."""

    stamp: int
    deadlines: dict[str, float]


async def create_tables(conn: AsyncConnection) -> None:
    for statement in TABLES:
        await conn.exec_driver_sql(statement)


async def announce(conn: AsyncConnection, instance: str) -> Pending:
    """In the changing transaction, just before its commit (see the module docstring for why this order)."""
    stamp = int((await conn.execute(_BUMP)).scalar_one())
    await conn.execute(_LOCK)
    rows = (await conn.execute(_LIVE, {"me": instance, "margin": MARGIN})).all()
    read_at = clock()  # after the answer: A's deadlines can only come out later than the database's
    await conn.execute(_NOTIFY, {"channel": SCHEMA_CHANNEL, "payload": f"{stamp} {instance}"})
    return Pending(stamp, {name: read_at + float(left) + MARGIN for name, left in rows})


class RuleWatch:
    """One instance's listener connection: hears changes, renews its lease, acknowledges, waits for acks."""

    def __init__(self, dsn: str, on_change: Callable[[], None]) -> None:
        self.instance = secrets.token_hex(8)  # random per process (and per store): never shared by two
        self._dsn = dsn
        self._on_change = on_change  # bumps the store's stamp: every unit after it reloads the schemas
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection: renewals and acks
        self._lease_until = 0.0
        self._next_prune = 0.0  # our clock: when to drop crashed processes' leases again
        self._known: int | None = None  # the database's stamp as last heard or read
        self._acks: dict[str, int] = {}  # per other instance, the highest stamp it acknowledged
        self._acked = asyncio.Event()  # set (and replaced) on every ack
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    def current(self) -> bool:
        """Whether cached rules may be used: listening, and within the lease. Costs one clock read."""
        return self._conn is not None and clock() < self._lease_until

    async def start(self) -> None:
        await self._connect()
        await self._renew()
        await self._prune()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(*_LOST):
                async with self._lock:  # others need not wait out a lease this instance no longer holds
                    await conn.execute("DELETE FROM ballast_schema_leases WHERE instance = $1", self.instance)
            await conn.close()

    async def acknowledged(self, pending: Pending) -> None:
        """Wait (after commit) until every instance that held a lease acked ``pending`` or its lease ran out."""
        waiting = dict(pending.deadlines)
        while True:
            event, now = self._acked, clock()
            waiting = {name: until for name, until in waiting.items()
                       if until > now and self._acks.get(name, -1) < pending.stamp}
            if not waiting:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(waiting.values()) - now)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings={"application_name": f"ballast-rules {self.instance}"})
        await conn.add_listener(SCHEMA_CHANNEL, self._on_notify)
        await conn.add_listener(ACK_CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        self._on_change()  # changes made while not listening were not heard: reload once whatever (b) reads

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                if self._conn is None:
                    await self._connect()
                await self._renew()
                if clock() >= self._next_prune:
                    await self._prune()
            except _LOST as error:
                # not renewed: the lease runs out and every unit reloads until a renewal succeeds again
                log.warning("schema lease not renewed: %s", type(error).__name__)
                await self._drop()

    async def _renew(self) -> None:
        conn = self._conn
        if conn is None:
            return
        async with self._lock:
            sent = clock()
            await conn.execute(_RENEW, self.instance, LEASE, timeout=RENEW_TIMEOUT)
            stamp = int(await conn.fetchval(_READ_STAMP, timeout=RENEW_TIMEOUT))
        self._learn(stamp)
        self._lease_until = sent + LEASE  # only now: (b) has answered

    async def _prune(self) -> None:
        """Delete the rows of leases long run out: no change then scans them under its lock for ever."""
        conn = self._conn
        if conn is None:
            return
        async with self._lock:
            await conn.execute(_PRUNE, PRUNE_AFTER, timeout=RENEW_TIMEOUT)
        self._next_prune = clock() + PRUNE_EVERY

    def _learn(self, stamp: int) -> None:
        if stamp != self._known:
            self._known = stamp
            self._on_change()

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == ACK_CHANNEL:
            name, _, stamp = payload.rpartition(":")
            if stamp.isdigit():
                if len(self._acks) > 1024:  # instances come and go; forgetting an ack only means waiting a lease
                    self._acks.clear()
                self._acks[name] = max(self._acks.get(name, -1), int(stamp))
                self._acked.set()
                self._acked = asyncio.Event()
            return
        stamp, _, origin = payload.partition(" ")
        self._on_change()  # first: the ack below promises the next unit here reloads
        if stamp.isdigit():
            self._known = max(self._known or 0, int(stamp))
            if origin != self.instance:
                task = asyncio.get_running_loop().create_task(self._ack(stamp))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _ack(self, stamp: str) -> None:
        conn = self._conn
        if conn is None:
            return  # not acking only makes A wait out this instance's lease
        with contextlib.suppress(*_LOST):
            async with self._lock:
                await conn.execute("SELECT pg_notify($1, $2)", ACK_CHANNEL, f"{self.instance}:{stamp}")

    def _on_lost(self, *_: object) -> None:
        self._conn = None  # not listening: current() is false, every unit reloads until _run reconnects

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*_LOST):
                await conn.close(timeout=1)
