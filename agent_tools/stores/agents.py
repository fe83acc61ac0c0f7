"""Agent principals: who an agent is, what it holds, and its tokens.

A token is shown once; only its sha256 is stored. Revoked and expired tokens
stay on the agent (flagged) so a call that presents one is still attributed,
and audited, as that agent's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from agent_tools.model.grant_names import checked_grants
from agent_tools.model.registry import ToolRegistry
from agent_tools.stores.classes import AGENT, Records
from backend import wire
from backend.context import Principal, PrincipalKind
from backend.errors import InvalidValue, ObjectNotFound
from backend.services.shared.units import Database, Unit

TOKEN_PREFIX = "bal_"
STANDING = ("name", "status", "roles", "grants", "owner", "tokens", "tokenHashes", "generation")
KNOWN_AGENTS = 10_000  # agent rows a process keeps (reads are admitted on them, then confirmed)
EAGER_CONFIRMATIONS = 256  # asks waiting for a call to need an answer, at most, before a query runs anyway
AGENT_ID = re.compile(r"[A-Za-z0-9]{10}")
STATUSES = ("active", "suspended")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    status: str
    roles: frozenset[str]
    grants: frozenset[str]
    owner: str | None
    # bumped by every revocation, rotation and suspension: credentials derived from the agent (OAuth access
    # and run tokens) carry the generation they were minted at and die when it moves (``derived_problem``)
    generation: int = 0

    @property
    def principal(self) -> Principal:
        return Principal(PrincipalKind.AGENT, agent_id=self.id, roles=self.roles)

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status, "roles": sorted(self.roles),
                "grants": sorted(self.grants), "owner": self.owner}


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token turned out to be: its agent (if any) and why it fails (if it does)."""

    agent: Agent | None
    token_id: str | None
    problem: str | None  # token.unknown | token.revoked | token.expired
    # answered from this process's copy of the agent row: (agent id, the row's standing) to confirm later
    unconfirmed: tuple[str, bytes] | None = None


def standing(raw: dict[str, Any]) -> bytes:
    """Everything a call's admission rests on in an agent row: equal standings admit exactly the same calls."""
    return orjson.dumps({key: raw.get(key) for key in STANDING}, option=orjson.OPT_SORT_KEYS)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def agent_from(obj: dict[str, Any]) -> Agent:
    return Agent(obj["objectId"], obj.get("name", ""), obj.get("status", "active"),
                 frozenset(obj.get("roles") or ()), frozenset(obj.get("grants") or ()), obj.get("owner"),
                 int(obj.get("generation") or 0))


def derived_problem(row: dict[str, Any], generation: int | None, token_id: str | None) -> str | None:
    """Why a credential derived from this agent no longer holds: its generation moved (a revocation, rotation or
    suspension since it was minted) or the gateway token it came from is revoked or expired. The one check
    every access and run token passes on every call, against the row read for that call."""
    if generation is None or generation != int(row.get("generation") or 0):
        return "token.revoked"
    if token_id is None:
        return None
    entry = next((dict(e) for e in row.get("tokens") or [] if e.get("id") == token_id), None)
    if entry is None or entry.get("revokedAt"):
        return "token.revoked"
    expires = entry.get("expiresAt")
    if expires and wire.parse_iso(expires) <= wire.now():
        return "token.expired"
    return None


class AgentStore:
    """Create, look up, suspend and resume agents; issue, rotate and revoke their tokens."""

    def __init__(self, records: Records, registry: ToolRegistry) -> None:
        self.records = records
        self.registry = registry  # the tools a grant may name (the app's own register when its code loads)
        self._rows: dict[str, dict[str, Any]] = {}  # agent id -> its row as this process last read it

    async def create(self, name: str, roles: list[str], grants: list[str], owner: str | None = None,
                     token_days: int | None = None) -> tuple[Agent, str]:
        """A new agent and its first token (the only time the token is shown)."""
        if not name or not name.strip():
            raise InvalidValue("An agent needs a name.")
        granted = checked_grants(grants, self.registry)  # before anything is stored
        if await self.records.first(AGENT, {"name": name}):
            raise InvalidValue(f"An agent named {name!r} exists already.")
        created = await self.records.create(AGENT, {
            "name": name, "status": "active", "roles": sorted(set(roles)), "grants": granted,
            "owner": owner, "tokens": [], "tokenHashes": [],
        })
        token = await self.issue_token(created["objectId"], token_days)
        return await self.get(created["objectId"]), token

    async def get(self, agent_id: str) -> Agent:
        return agent_from(await self._raw(agent_id))

    async def find(self, name_or_id: str) -> Agent:
        found = await self.records.first(AGENT, {"$or": [{"name": name_or_id}, {"objectId": name_or_id}]})
        if found is None:
            raise ObjectNotFound(f"No agent {name_or_id!r}.")
        return agent_from(found)

    async def all(self) -> list[Agent]:
        return [agent_from(obj) for obj in await self.records.find(AGENT, order="name", limit=1000)]

    async def set_status(self, agent_id: str, status: str) -> Agent:
        if status not in STATUSES:
            raise InvalidValue(f"status must be one of {', '.join(STATUSES)}.")
        raw = await self._raw(agent_id)
        changes: dict[str, Any] = {"status": status}
        if status != "active":  # a suspension ends every derived credential for good (resuming revives none)
            changes["generation"] = _next_generation(raw)
        await self.records.update(AGENT, agent_id, changes)
        self.forget(agent_id)
        return await self.get(agent_id)

    async def set_grants(self, agent_id: str, roles: list[str] | None, grants: list[str] | None) -> Agent:
        changes: dict[str, Any] = {}
        if roles is not None:
            changes["roles"] = sorted(set(roles))
        if grants is not None:
            changes["grants"] = checked_grants(grants, self.registry)
        await self._raw(agent_id)
        await self.records.update(AGENT, agent_id, changes)
        self.forget(agent_id)
        return await self.get(agent_id)

    async def issue_token(self, agent_id: str, days: int | None = None, *, revoke_others: bool = False) -> str:
        """A new token for the agent (rotation revokes the others)."""
        raw = await self._raw(agent_id)
        # the agent's id rides in the token, so a call finds its agent by primary key, not by scanning hashes
        token = f"{TOKEN_PREFIX}{agent_id}_{secrets.token_urlsafe(32)}"
        digest = hash_token(token)
        tokens = [dict(entry) for entry in raw.get("tokens") or []]
        if revoke_others:
            for entry in tokens:
                entry.setdefault("revokedAt", wire.format_iso(wire.now()))
        expires = wire.format_iso(wire.now() + timedelta(days=days)) if days else None
        tokens.append({"id": digest[:12], "hash": digest, "createdAt": wire.format_iso(wire.now()),
                       "expiresAt": expires})
        hashes = [*(raw.get("tokenHashes") or []), digest]
        changes: dict[str, Any] = {"tokens": tokens, "tokenHashes": hashes}
        if revoke_others:
            changes["generation"] = _next_generation(raw)
        await self.records.update(AGENT, agent_id, changes)
        self.forget(agent_id)
        return token

    async def revoke_token(self, agent_id: str, token_id: str | None = None) -> int:
        """Revoke one token (by id) or all of them; answers how many were revoked."""
        raw = await self._raw(agent_id)
        tokens = [dict(entry) for entry in raw.get("tokens") or []]
        revoked = 0
        for entry in tokens:
            if (token_id is None or entry.get("id") == token_id) and not entry.get("revokedAt"):
                entry["revokedAt"] = wire.format_iso(wire.now())
                revoked += 1
        await self.records.update(AGENT, agent_id, {"tokens": tokens, "generation": _next_generation(raw)})
        self.forget(agent_id)
        return revoked

    def tokens_of(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        return [{key: value for key, value in entry.items() if key != "hash"} for entry in raw.get("tokens") or []]

    async def check(self, token: str | None, unit: Any = None, *, cached: bool = False) -> TokenCheck:
        """Resolve a presented bearer token; never says more than 'unknown' about a stranger.

        ``cached``: answer from this process's copy of the agent row when it has one (a read tool call,
        whose answer waits for ``confirm`` in its audit record's transaction); otherwise read it fresh.
        """
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return TokenCheck(None, None, "token.unknown")
        digest = hash_token(token)
        found, unconfirmed = await self._holder(token, digest, unit, cached)
        entry = _entry_for(found, digest) if found else None
        if found is None or entry is None:
            return TokenCheck(None, None, "token.unknown", unconfirmed)
        agent = agent_from(found)
        if entry.get("revokedAt"):
            return TokenCheck(agent, entry.get("id"), "token.revoked", unconfirmed)
        expires = entry.get("expiresAt")
        if expires and wire.parse_iso(expires) <= wire.now():
            return TokenCheck(agent, entry.get("id"), "token.expired", unconfirmed)
        return TokenCheck(agent, entry.get("id"), None, unconfirmed)

    async def check_id(self, agent_id: str, unit: Any = None, *, cached: bool = False, generation: int | None = None,
                       token_id: str | None = None) -> TokenCheck:
        """An agent named by a verified access or run token: found and the token still derived from a live
        source (``derived_problem``), or unknown (deleted since)."""
        if not AGENT_ID.fullmatch(agent_id):
            return TokenCheck(None, None, "token.unknown")
        found, unconfirmed = await self._by_id(agent_id, unit, cached)
        if found is None:
            return TokenCheck(None, None, "token.unknown")
        agent = agent_from(found)
        # a suspended agent is refused by the policy, naming why (agent.suspended); its generation moved, so
        # resuming it revives none of these tokens
        problem = derived_problem(found, generation, token_id) if agent.status == "active" else None
        return TokenCheck(agent, token_id, problem, unconfirmed)

    async def confirm(self, unit: Unit, seen: list[tuple[str, bytes]]) -> set[tuple[str, bytes]]:
        """Which of these (agent id, standing) no longer hold, read in ``unit``: the calls admitted on them run
        again on the fresh row. One query for a whole batch of audit records, where each call would pay one."""
        ids = sorted({agent_id for agent_id, _ in seen})
        rows = {str(row["objectId"]): row for row in await self.records.rows.fetch_many(unit, AGENT, ids)}
        fresh = {agent_id: standing(rows[agent_id]) for agent_id in ids if agent_id in rows}
        for agent_id in ids:
            self._remember(agent_id, rows.get(agent_id))
        return {item for item in seen if fresh.get(item[0]) != item[1]}

    async def _holder(self, token: str, digest: str, unit: Any,
                      cached: bool) -> tuple[dict[str, Any] | None, tuple[str, bytes] | None]:
        """The agent a token names (``bal_<agentId>_<secret>``), or the one holding its hash (older tokens).

        A write reads it fresh, in its own transaction (where its audit record commits), so a suspension or
        revocation committed by any instance stops the very next call on every instance (the kill switch).
        A read may start from this process's copy; ``confirm`` then checks it against the committed row in
        the transaction that writes the call's record, before the answer leaves, and a changed agent makes
        the call run again on the fresh row: the same guarantee, one query per batch of reads.
        """
        agent_id = token[len(TOKEN_PREFIX):].split("_", 1)[0]
        if AGENT_ID.fullmatch(agent_id):
            return await self._by_id(agent_id, unit, cached)
        return await self.records.first(AGENT, {"tokenHashes": digest}, unit=unit), None

    async def _by_id(self, agent_id: str, unit: Any,
                     cached: bool) -> tuple[dict[str, Any] | None, tuple[str, bytes] | None]:
        if cached and (known := self._rows.get(agent_id)) is not None:
            return known, (agent_id, standing(known))
        found = await self.records.row(AGENT, agent_id, unit)
        self._remember(agent_id, found)
        return found, None

    def _remember(self, agent_id: str, row: dict[str, Any] | None) -> None:
        self._rows.pop(agent_id, None)
        if row is not None:
            self._rows[agent_id] = row
            while len(self._rows) > KNOWN_AGENTS:
                self._rows.pop(next(iter(self._rows)))

    def forget(self, agent_id: str) -> None:
        """This process changed the agent: its next call reads the row fresh."""
        self._rows.pop(agent_id, None)

    async def _raw(self, agent_id: str) -> dict[str, Any]:
        try:
            return await self.records.get(AGENT, agent_id)
        except ObjectNotFound:
            raise ObjectNotFound(f"No agent {agent_id!r}.") from None


def _next_generation(raw: dict[str, Any]) -> int:
    return int(raw.get("generation") or 0) + 1


def _entry_for(raw: dict[str, Any], digest: str) -> dict[str, Any] | None:
    for entry in raw.get("tokens") or []:
        if hmac.compare_digest(str(entry.get("hash", "")), digest):
            return dict(entry)
    return None


class Confirmations:
    """Group confirmation of agent copies: one query answers every call that asked since the last one began.

    A call admitted on a copy asks here and goes on (a write runs its tool meanwhile); before its result
    counts it awaits the answer, and the first call to need one starts the query for everyone who asked. A
    batch's query starts after each of its calls asked, so it sees every change committed before any of them
    started: a suspension stops the next call on every instance.
    """

    def __init__(self, agents: AgentStore, db: Database) -> None:
        self.agents, self.db = agents, db
        self._queue: list[tuple[tuple[str, bytes], asyncio.Future[bool]]] = []
        self._runner: asyncio.Task[None] | None = None

    def ask(self, seen: tuple[str, bytes]) -> asyncio.Future[bool]:
        """A future answer: True while the agent's committed row still has this standing (see ``answer``)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a call that stopped early never awaits it
        self._queue.append((seen, future))
        if len(self._queue) >= EAGER_CONFIRMATIONS:  # calls that failed before needing theirs: do not pile up
            self._start()
        return future

    async def answer(self, future: asyncio.Future[bool]) -> bool:
        """The answer to an ``ask``. Its query starts when a call first needs an answer, not when it asks: the
        calls that asked meanwhile (their tools running) share that one query."""
        if not future.done():
            self._start()
        return await future

    def _start(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self.db.unit(read_only=True) as unit:
                    changed = await self.agents.confirm(unit, [seen for seen, _ in batch])
            except Exception as error:  # noqa: BLE001 - every waiting call learns it, none hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for seen, future in batch:
                if not future.done():
                    future.set_result(seen not in changed)


def _retrieved(future: asyncio.Future[bool]) -> None:
    if not future.cancelled():
        future.exception()
