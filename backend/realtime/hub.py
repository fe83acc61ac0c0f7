"""The LiveQuery hub: clients, subscriptions, shared matchers, and delivery of committed changes.

Changes come from ``services.events`` and go out through a PubSub (in-process,
or Redis with a channel per class); whatever arrives from the PubSub is
delivered here to local subscribers, each event authorized for its
subscriber (CLP, ACL, protected fields) and shaped (keys, include, cloud
hook). Session tokens resolve through ``services.sessions``; a token that
stops resolving (revoked, expired) ends the subscriptions that use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from backend import querytree as q
from backend.cloud import Registry, cloud
from backend.context import ANONYMOUS, MASTER, Principal, RequestContext
from backend.errors import InvalidSessionToken, OperationForbidden, ParseCode, ParseError
from backend.realtime import changes, dispatch, including
from backend.realtime.changes import Change
from backend.realtime.clients import Client, RequestId, Subscription
from backend.realtime.hooks import CONNECT_CLASS, ConnectRequest, LiveEventRequest, LiveHooks, SubscribeRequest
from backend.realtime.matching import Matcher, canonical_key
from backend.realtime.metrics import LiveMetrics
from backend.realtime.permissions import class_allows, clp_operation, watches_protected
from backend.realtime.protocol import names
from backend.realtime.pubsub import LocalPubSub, PubSub
from backend.services.data import reads
from backend.services.data.schemas import check_class_name, new_schema
from backend.services.shared.events import ObjectEvent
from backend.services.wiring import Services
from backend.storage.protocols import ClassSchema
from backend.wire import Pointer

log = logging.getLogger("ballast.realtime")

AUTH_CLASSES = ("_Session", "_Role", "_User")  # a change here may change what a token may see
SESSION_ERROR = "Invalid session token"
FAN_OUT_SLICE = 500  # frames written between yields to the event loop (one event may go to thousands)
UNPLANNED = dispatch.Plan(dispatch.Decision("", "after", None), b"", b"")  # no plan made yet for a group


class Hub:
    def __init__(self, services: Services, pubsub: PubSub | None = None, registry: Registry | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.pubsub: PubSub = pubsub or LocalPubSub()
        self.hooks = LiveHooks(lambda: registry or _cloud_registry(services))
        self.metrics = LiveMetrics()
        self.clients: dict[str, Client] = {}
        self.matchers: dict[str, dict[str, Matcher]] = {}  # class -> canonical key -> matcher
        self.members: dict[str, dict[tuple[str, RequestId], Subscription]] = {}  # matcher key -> subscriptions
        self._live = frozenset(self.settings.live_query_classes)
        self._kept_live: set[str] = set()  # classes the server itself follows (keep_live), whatever the setting
        self._unsubscribe_events: Callable[[], None] = _nothing
        self._checker: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.pubsub.start(self.deliver)
        for class_name in AUTH_CLASSES:
            await self.pubsub.watch(class_name)
        self._unsubscribe_events = self.services.events.subscribe(self.on_change)
        self._checker = asyncio.create_task(self._check_sessions(), name="livequery-session-check")

    async def stop(self) -> None:
        self._unsubscribe_events()
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        for client in list(self.clients.values()):
            with contextlib.suppress(Exception):  # the socket may already be gone
                await client.close(1001, "server shutting down")
            await self.disconnect(client)
        await self.pubsub.stop()

    def is_live(self, class_name: str) -> bool:
        return not self._live or class_name in self._live or class_name in self._kept_live

    def keep_live(self, class_name: str) -> None:
        """Publish ``class_name``'s changes whatever BALLAST_LIVE_QUERY_CLASSES says: every instance calls this
        for the classes a server-side observer (``observe``) may follow on another instance."""
        self._kept_live.add(class_name)

    # --- clients and subscriptions ---------------------------------------------------

    async def connect(self, client: Client) -> None:
        """Run beforeConnect, then register the client (raises ParseError to refuse it)."""
        if self.hooks.has("beforeConnect", CONNECT_CLASS):
            request = ConnectRequest(client.principal, client.installation_id, client.principal.is_master,
                                     len(self.clients), self.subscription_count())
            await self.hooks.run("beforeConnect", CONNECT_CLASS, request)
        client.on_overflow = self._overflowed
        self.clients[client.id] = client
        self.metrics.clients.set(len(self.clients))

    async def disconnect(self, client: Client) -> None:
        for request_id in list(client.subscriptions):
            await self.unsubscribe(client, request_id)
        if self.clients.pop(client.id, None) is not None:
            self.metrics.clients.set(len(self.clients))
        await client.stop()

    def subscription_count(self) -> int:
        return sum(len(members) for members in self.members.values())

    async def principal_for(self, client: Client, token: str | None) -> Principal:
        """The identity of a subscription: master for a master client, else its token's user."""
        if client.principal.is_master:
            return MASTER
        if not token or token == client.token:
            return client.principal
        principal = await self.services.sessions.principal_for(token)
        if principal is None:
            raise InvalidSessionToken(SESSION_ERROR)
        return principal

    async def subscribe(self, client: Client, request: dict[str, Any]) -> None:
        """Add (or replace) the subscription ``request`` names; ParseError refuses it."""
        query, request_id = request["query"], request["requestId"]
        class_name = query["className"]
        check_class_name(class_name)
        principal = await self.principal_for(client, request.get("sessionToken"))
        hook = SubscribeRequest(principal, class_name, dict(query["where"]), names(query.get("keys")),
                                names(query.get("watch")), client.installation_id)
        await self.hooks.run("beforeSubscribe", class_name, hook)
        where = _restricted(class_name, hook.where, principal)
        schema = await self._schema(class_name)
        op = clp_operation(where)
        if not class_allows(principal, schema, op):
            raise OperationForbidden(f"Permission denied for action {op} on class {class_name}.")
        limit = self.settings.live_query_max_subscriptions
        if request_id not in client.subscriptions and len(client.subscriptions) >= limit:
            raise TooManySubscriptions(f"Too many subscriptions on this connection (the limit is {limit}).")
        matcher = self.matchers.get(class_name, {}).get(canonical_key(class_name, where))
        matcher = matcher or Matcher(class_name, where, schema, self.services.schemas.cached)
        # the same read check as a find: every field the where reads, as the matcher reads it
        node = reads.ReadNode(schema, matcher.tree_for(schema) or q.MATCH_ALL, operation=op)
        reads.authorize_read(RequestContext(principal), node, self.services.schemas.cached)
        if watches_protected(principal, schema, hook.watch):
            raise OperationForbidden("Permission denied")
        if request_id in client.subscriptions:
            await self.unsubscribe(client, request_id)
        include = query.get("include")
        await self._add(Subscription(
            client, request_id, matcher, principal, request.get("sessionToken") or client.token, op,
            tuple(hook.keys) if hook.keys else None, tuple(hook.watch) if hook.watch else None,
            ",".join(include) if isinstance(include, list) else include,
        ))

    async def observe(self, client: Client, class_name: str) -> None:
        """Server-side observer (the admin console): every change of ``class_name`` as master, internal classes
        included, through the same PubSub as LiveQuery (so across instances when Redis is configured)."""
        self.keep_live(class_name)
        schema = await self._schema(class_name)
        matcher = self.matchers.get(class_name, {}).get(canonical_key(class_name, {}))
        matcher = matcher or Matcher(class_name, {}, schema, self.services.schemas.cached)
        await self._add(Subscription(client, 1, matcher, MASTER, None, "find"))

    async def _add(self, subscription: Subscription) -> None:
        matcher = subscription.matcher
        class_matchers = self.matchers.setdefault(matcher.class_name, {})
        first_of_class = not class_matchers
        class_matchers[matcher.key] = matcher
        self.members.setdefault(matcher.key, {})[(subscription.client.id, subscription.request_id)] = subscription
        subscription.client.subscriptions[subscription.request_id] = subscription
        self._count()
        if first_of_class and self.is_live(matcher.class_name) and matcher.class_name not in AUTH_CLASSES:
            await self.pubsub.watch(matcher.class_name)

    async def unsubscribe(self, client: Client, request_id: RequestId) -> bool:
        subscription = client.subscriptions.pop(request_id, None)
        if subscription is None:
            return False
        matcher = subscription.matcher
        members = self.members.get(matcher.key, {})
        members.pop((client.id, request_id), None)
        if not members:
            self.members.pop(matcher.key, None)
            class_matchers = self.matchers.get(matcher.class_name, {})
            class_matchers.pop(matcher.key, None)
            if not class_matchers:
                self.matchers.pop(matcher.class_name, None)
                if matcher.class_name not in AUTH_CLASSES:
                    await self.pubsub.unwatch(matcher.class_name)
        self._count()
        return True

    def _count(self) -> None:
        self.metrics.subscriptions.set(self.subscription_count())
        self.metrics.matchers.set(len(self.members))

    async def _schema(self, class_name: str) -> ClassSchema:
        # the schema cache as REST reads it; only a miss costs a transaction (thousands of clients subscribe at once)
        cached = self.services.schemas.cached(class_name)
        if cached is not None and not self.services.schemas.stale():  # another instance's CLP change: reload
            return cached
        async with self.services.db.unit(read_only=True) as unit:
            schema = await self.services.schemas.get(unit, class_name)
        return schema or new_schema(class_name)

    # --- delivery --------------------------------------------------------------------

    async def on_change(self, event: ObjectEvent) -> None:
        """EventBus listener: publish committed changes of live classes (and identity changes)."""
        if self.is_live(event.class_name) or event.class_name in AUTH_CLASSES:
            await self.pubsub.publish(changes.from_event(event))

    async def deliver(self, change: Change) -> None:
        """A change arrived from the PubSub: send each local subscriber its event, at most once."""
        if change.class_name in AUTH_CLASSES:
            # before any later change is delivered: a revoked session or a role change applies from the next event
            await self.revalidate(_affected_users(change))
        class_matchers = self.matchers.get(change.class_name)
        if not class_matchers:
            return
        view = dispatch.EventView(change, self.services.objects.file_url)
        tally: dict[str, int] = {}
        hooked = self.hooks.has("afterLiveQueryEvent", change.class_name)
        for matcher in list(class_matchers.values()):
            before_match = change.before is not None and matcher.matches(change.before, change.schema)
            after_match = change.after is not None and matcher.matches(change.after, change.schema)
            if before_match or after_match:
                await self._fan_out(list(self.members.get(matcher.key, {}).values()), view,
                                    (before_match, after_match), hooked, tally)
        self._record(tally, change)

    async def _fan_out(self, subscriptions: list[Subscription], view: dispatch.EventView,
                       matched: tuple[bool, bool], hooked: bool, tally: dict[str, int]) -> None:
        """One matcher's subscribers: a plain frame is written without an await (no coroutine per subscriber);
        include and afterLiveQueryEvent hooks await; the loop gets a turn every FAN_OUT_SLICE subscribers."""
        plans: dict[tuple[Any, ...], dispatch.Plan | None] = {}
        seen: tuple[Principal | None, str, object] = (None, "", None)  # the last principal's identity
        for index, sub in enumerate(subscriptions, 1):
            if index % FAN_OUT_SLICE == 0:
                await asyncio.sleep(0)  # let requests and the other sockets in between a long fan-out
            if sub.client.subscriptions.get(sub.request_id) is not sub:
                continue  # unsubscribed while this event was on its way
            if sub.principal is not seen[0] or sub.op != seen[1]:
                seen = (sub.principal, sub.op, view.identity(sub.principal, sub.op))
            group = (seen[2], sub.op, sub.watch, sub.keys)
            plan = plans.get(group, UNPLANNED)
            if plan is UNPLANNED:
                plan = plans[group] = dispatch.plan(sub, view, *matched)
            if plan is None:
                continue
            if sub.include or hooked:
                outcome = await self._send_custom(sub, plan.decision, view)
            else:
                outcome = plan.decision.op if sub.client.push(plan.head + sub.ident + plan.tail) else "client"
            tally[outcome] = tally.get(outcome, 0) + 1

    def _record(self, tally: dict[str, int], change: Change) -> None:
        """Metrics once per change (not per frame): counts by op, and the latency of its last frame."""
        dropped = {"hook", "client"}
        for outcome, count in tally.items():
            if outcome in dropped:
                self.metrics.dropped.labels(outcome).inc(count)
            else:
                self.metrics.delivered.labels(outcome).inc(count)
        if any(outcome not in dropped for outcome in tally):
            self.metrics.latency.observe(max(0.0, time.time() - change.committed_at))

    async def _send_custom(self, sub: Subscription, decision: dispatch.Decision, view: dispatch.EventView) -> str:
        """Send one frame that include or a hook shapes; answers the op sent, or why not ('hook', 'client')."""
        frame = await self._custom_frame(sub, decision, view)
        if frame is None:
            return "hook"
        return decision.op if sub.client.push(frame) else "client"

    async def _custom_frame(self, sub: Subscription, decision: dispatch.Decision,
                            view: dispatch.EventView) -> bytes | None:
        obj = view.shaped(sub, decision.object)
        original = view.shaped(sub, decision.original) if decision.original else None
        if sub.include:
            ctx = RequestContext(sub.principal, installation_id=sub.client.installation_id)
            await including.resolve(self.services.objects, ctx, obj, sub.include)
        request = LiveEventRequest(sub.principal, decision.op, view.change.class_name, obj, original,
                                   sub.client.installation_id)
        try:
            await self.hooks.run("afterLiveQueryEvent", view.change.class_name, request)
        except ParseError as error:
            sub.client.push(_error(error.code, error.message, sub.request_id))
            return None
        if not request.send_event:
            return None
        return dispatch.frame_from_objects(decision.op, sub, request.object, request.original)

    def _overflowed(self, client: Client) -> None:
        self.metrics.dropped.labels("slow_client").inc()
        asyncio.get_running_loop().create_task(self.disconnect(client))

    # --- sessions --------------------------------------------------------------------

    async def _check_sessions(self) -> None:
        """Re-resolve every token in use every few seconds, so expired sessions stop receiving too."""
        while True:
            await asyncio.sleep(self.settings.live_query_session_check)
            try:
                await self.revalidate()
            except Exception:
                log.exception("live query session check failed")

    async def revalidate(self, user_ids: frozenset[str] | None = None) -> None:
        """Re-resolve the session tokens in use (only those of ``user_ids`` when given): a token that no longer
        resolves ends its subscriptions, a changed user or role set applies from the next event."""
        # the clients each token is used by, found in one pass (a loop over every client per token was
        # quadratic: 25 million steps every check with 5,000 signed-in clients)
        users: dict[str, dict[str, Client]] = {}
        for client in self.clients.values():
            if _rechecked(client.token, client.principal, user_ids):
                users.setdefault(client.token or "", {})[client.id] = client
            for sub in client.subscriptions.values():
                if _rechecked(sub.token, sub.principal, user_ids):
                    users.setdefault(sub.token or "", {})[client.id] = client
        for token, clients in users.items():
            principal = await self.services.sessions.principal_for(token)
            for client in clients.values():
                await self._apply_session(client, token, principal)

    async def _apply_session(self, client: Client, token: str, principal: Principal | None) -> None:
        for sub in list(client.subscriptions.values()):
            if sub.token != token or sub.principal.is_master:
                continue
            if principal is None:
                await self.unsubscribe(client, sub.request_id)
                client.push(_error(InvalidSessionToken.code, SESSION_ERROR, sub.request_id, reconnect=False))
            else:
                sub.principal = principal
        if client.token == token:
            client.principal = principal or ANONYMOUS
            if principal is None:
                client.token = None


def _nothing() -> None:
    return None


def _rechecked(token: str | None, principal: Principal, user_ids: frozenset[str] | None) -> bool:
    return bool(token) and not principal.is_master and (user_ids is None or principal.user_id in user_ids)


def _affected_users(change: Change) -> frozenset[str] | None:
    """Whose sessions a change of an identity class may end or alter: the session's user, the user
    itself; a role change may reach anyone (None: every token is re-resolved).

    A sign-in writes a _Session: re-resolving every token in use for each one would cost thousands of
    lookups per sign-in, holding up every event behind them."""
    if change.class_name not in ("_Session", "_User"):
        return None
    ids: set[str] = set()
    for row in (change.before, change.after):
        if row is None:
            continue
        if change.class_name == "_User":
            ids.add(str(row.get("objectId")))
        elif isinstance(user := row.get("user"), Pointer):
            ids.add(user.object_id)
        elif isinstance(user, dict) and isinstance(user.get("objectId"), str):
            ids.add(user["objectId"])
        else:
            return None  # a session with no readable user: check everyone rather than miss one
    return frozenset(ids)


def _cloud_registry(services: Services) -> Registry:
    """The registry the running cloud service loaded, else the process-wide one."""
    service = getattr(services, "cloud", None)  # present once cloud code is wired into Services
    loaded = getattr(service, "registry", None)
    return loaded if isinstance(loaded, Registry) else cloud.registry


class TooManySubscriptions(ParseError):
    code = ParseCode.REQUEST_LIMIT_EXCEEDED
    default_message = "Too many subscriptions on this connection."


def _restricted(class_name: str, where: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """_Session subscriptions only ever see the subscriber's own sessions (as parse-server)."""
    if class_name != "_Session" or principal.is_master:
        return where
    if principal.user_id is None:
        raise InvalidSessionToken(SESSION_ERROR)
    return {**where, "user": {"__type": "Pointer", "className": "_User", "objectId": principal.user_id}}


def _error(code: int, message: str, request_id: RequestId | None, reconnect: bool = False) -> bytes:
    return orjson.dumps({"op": "error", "error": message, "code": int(code), "reconnect": reconnect,
                         "requestId": request_id})
