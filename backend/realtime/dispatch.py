"""One change -> the event each subscription gets (or none), shaped for its subscriber.

The event type follows parse-server: whether the object matched the query
(and was readable) before and after the change decides create / enter /
update / leave / delete. Matching runs once per distinct query; the object is
rendered once per change and serialized once per view (protected fields,
keys); the decision and its bytes are made once per group of subscriptions
that would get the same event (same identity, CLP operation, ``watch`` and
``keys``), so a thousand identical subscriptions cost one decision and a
thousand small byte joins, not a thousand renders or ACL checks.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from backend.context import Principal
from backend.realtime.changes import Change
from backend.realtime.clients import Subscription
from backend.realtime.permissions import Audience, ReadOp, audience, protected_fields, readable, row_allowed
from backend.services.data.render import FileUrl, render
from backend.storage.protocols import Row

Which = Literal["before", "after"]
ALWAYS_KEPT = ("className", "objectId", "updatedAt", "createdAt", "ACL")


@dataclass(frozen=True, slots=True)
class Decision:
    op: str
    object: Which
    original: Which | None


def decide(sub: Subscription, principal: Principal, view: EventView, before_match: bool,
           after_match: bool) -> Decision | None:
    """parse-server's rules for which event (if any) ``sub`` sees, as ``principal`` (its own, or a stand-in)."""
    change = view.change
    before, after = change.before, change.after
    if change.kind == "delete":
        if not before_match or before is None or not view.allowed(principal, sub.op, "before"):
            return None
        return Decision("delete", "before", None) if readable(principal, before) else None
    if after is None or not view.allowed(principal, sub.op, "after"):
        return None
    was = before_match and readable(principal, before)
    now = after_match and readable(principal, after)
    if was and now:
        decision = Decision("update", "after", "before")
    elif was:
        # an ACL-lost leave must not show the state the subscriber may no longer read
        shown: Which = "after" if not after_match and readable(principal, after) else "before"
        decision = Decision("leave", shown, "before")
    elif now:
        if before is None:
            decision = Decision("create", "after", None)
        else:
            original_shown = not before_match and readable(principal, before)
            decision = Decision("enter", "after", "before" if original_shown else None)
    else:
        return None
    if decision.op in ("update", "create") and sub.watch and not _watched_changed(sub.watch, before, after):
        return None
    return decision


def _watched_changed(watch: tuple[str, ...], before: Row | None, after: Row) -> bool:
    previous = before or {}
    return any(after.get(name) != previous.get(name) for name in watch)


@dataclass
class EventView:
    """One change as this instance renders it: JSON objects, and their bytes per view."""

    change: Change
    file_url: FileUrl
    _objects: dict[Which, dict[str, Any]] = field(default_factory=dict)
    _bytes: dict[tuple[Which, frozenset[str], tuple[str, ...] | None], bytes] = field(default_factory=dict)
    # subscribers with one identity share these answers (every anonymous client is one principal)
    _allowed: dict[tuple[Principal, str, Which], bool] = field(default_factory=dict)
    _hidden: dict[tuple[Principal, Which], frozenset[str]] = field(default_factory=dict)
    _audiences: dict[ReadOp, Audience | None] = field(default_factory=dict)

    def identity(self, principal: Principal, op: ReadOp) -> object:
        """What of ``principal`` this event's answers depend on: equal identities get equal events."""
        found = self._audience(op) if not principal.is_master else None
        return principal if found is None else found.key(principal)

    def stand_in(self, principal: Principal, op: ReadOp) -> Principal:
        """One principal answering for every principal of the same ``identity``."""
        found = self._audience(op) if not principal.is_master else None
        return principal if found is None else found.stand_in(principal)

    def _audience(self, op: ReadOp) -> Audience | None:
        if op not in self._audiences:
            self._audiences[op] = audience(self.change.schema, op, (self.change.before, self.change.after))
        return self._audiences[op]

    def allowed(self, principal: Principal, op: ReadOp, which: Which) -> bool:
        """CLP and pointer permissions for this object, once per identity."""
        key = (principal, op, which)
        answer = self._allowed.get(key)
        if answer is None:
            answer = row_allowed(principal, self.change.schema, op, self.row(which))
            self._allowed[key] = answer
        return answer

    def hidden(self, principal: Principal, which: Which) -> frozenset[str]:
        key = (principal, which)
        fields = self._hidden.get(key)
        if fields is None:
            fields = protected_fields(principal, self.change.schema, self.row(which))
            self._hidden[key] = fields
        return fields

    def object(self, which: Which) -> dict[str, Any]:
        obj = self._objects.get(which)
        if obj is None:
            obj = {"className": self.change.class_name, **render(self.change.schema, self.row(which), self.file_url)}
            self._objects[which] = obj
        return obj

    def row(self, which: Which) -> Row:
        row = self.change.before if which == "before" else self.change.after
        assert row is not None
        return row

    def shaped(self, sub: Subscription, which: Which) -> dict[str, Any]:
        """A private copy of the object as this subscriber may see it (for include and hooks)."""
        return shape(copy.deepcopy(self.object(which)), self.hidden(sub.principal, which), sub.keys)

    def encoded(self, sub: Subscription, principal: Principal, which: Which) -> bytes:
        hidden = self.hidden(principal, which)
        key = (which, hidden, sub.keys)
        data = self._bytes.get(key)
        if data is None:
            data = orjson.dumps(shape(self.object(which), hidden, sub.keys))
            self._bytes[key] = data
        return data


def shape(obj: dict[str, Any], hidden: frozenset[str], keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Drop protected fields, then keep only ``keys`` (plus the fields Parse always sends)."""
    if hidden:
        obj = {name: value for name, value in obj.items() if name not in hidden}
    if keys is not None:
        obj = {name: obj[name] for name in (*ALWAYS_KEPT, *keys) if name in obj}
    return obj


@dataclass(frozen=True, slots=True)
class Plan:
    """One decision made and encoded for every subscriber of a group: a frame is ``head + ident + tail``."""

    decision: Decision
    head: bytes
    tail: bytes


def plan(sub: Subscription, view: EventView, before_match: bool, after_match: bool) -> Plan | None:
    """The event of ``sub`` and its encoded parts; equal for every subscription with the same
    ``view.identity``, CLP operation, ``watch`` and ``keys`` (what ``decide`` and ``encoded`` read)."""
    principal = view.stand_in(sub.principal, sub.op)
    decision = decide(sub, principal, view, before_match, after_match)
    if decision is None:
        return None
    tail = [b',"object":', view.encoded(sub, principal, decision.object)]
    if decision.original is not None:
        tail += [b',"original":', view.encoded(sub, principal, decision.original)]
    tail.append(b"}")
    return Plan(decision, b'{"op":"' + decision.op.encode() + b'",', b"".join(tail))


def frame(op: str, sub: Subscription, obj: bytes, original: bytes | None) -> bytes:
    """The event frame, joined from pre-encoded parts: same JSON as encoding the whole dict."""
    parts = [b'{"op":"', op.encode(), b'",', sub.ident, b',"object":', obj]
    if original is not None:
        parts += [b',"original":', original]
    parts.append(b"}")
    return b"".join(parts)


def frame_from_objects(op: str, sub: Subscription, obj: Mapping[str, Any], original: Mapping[str, Any] | None) -> bytes:
    return frame(op, sub, orjson.dumps(obj), orjson.dumps(original) if original is not None else None)
