"""ObjectService.count_by: one grouped count that agrees with a count per group, under count's checks, both engines.

The console's insights page sums its numbers from it, so each group and each time bucket must be exactly what a
``count`` of it answers; and a reader may learn from it no more than counts would tell: the class's count
permission, the ACL, protected fields and an agent's field scope all apply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from backend import wire
from backend.context import ANONYMOUS, MASTER, Principal, PrincipalKind, ReadLimits, RequestContext
from backend.errors import InvalidQuery, OperationForbidden
from backend.services.wiring import Services

ROOT = RequestContext(MASTER)
U1 = RequestContext(Principal(PrincipalKind.USER, "u1"))
START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=2)
EDGES = tuple(START + STEP * n for n in range(1, 4))  # buckets: < 02:00, < 04:00, < 06:00, the rest


def _date(moment: datetime) -> dict[str, str]:
    return {"__type": "Date", "iso": wire.format_iso(moment)}


@pytest.fixture
def services(app: FastAPI) -> Services:
    built: Services = app.state.services
    return built


@pytest.fixture
async def calls(services: Services) -> list[dict[str, Any]]:
    """24 objects: colors, kinds, one without a kind, times on and just before bucket edges, some only u1 reads."""
    made = []
    for n in range(24):
        late = n % 4 == 3  # a millisecond before the next edge; n % 4 == 0 lies exactly on one
        at = START + timedelta(minutes=30 * (n + 1), milliseconds=-1) if late else START + timedelta(minutes=30 * n)
        body: dict[str, Any] = {"color": ("red", "green", "blue")[n % 3], "at": _date(at), "n": n}
        if n != 5:
            body["kind"] = "read" if n % 2 else "write"
        if n % 6 == 0:
            body["ACL"] = {"u1": {"read": True}}
        made.append(body)
        await services.objects.create(ROOT, "Call", body)
    return made


async def test_groups_agree_with_a_count_of_each_group(services: Services, calls: list[dict[str, Any]]) -> None:
    groups = dict(await services.objects.count_by(ROOT, "Call", {"n": {"$lt": 20}}, ("color", "kind")))
    assert sum(groups.values()) == 20
    for (color, kind), count in groups.items():
        where = {"n": {"$lt": 20}, "color": color, "kind": kind if kind is not None else {"$exists": False}}
        assert count == await services.objects.count(ROOT, "Call", where), (color, kind)
    assert groups[("blue", None)] == 1  # n = 5 has no kind: its own group, as a find reads it (null)


async def test_time_buckets_count_exactly_what_range_counts_do(services: Services,
                                                               calls: list[dict[str, Any]]) -> None:
    groups = await services.objects.count_by(ROOT, "Call", {}, ("color",), "at", EDGES)
    per_bucket = [0] * (len(EDGES) + 1)
    for (_, bucket), count in groups:
        per_bucket[bucket] += count
    bounds: list[datetime | None] = [None, *EDGES, None]
    for n, count in enumerate(per_bucket):  # objects a microsecond before and exactly on an edge fall apart
        where: dict[str, Any] = {}
        low, high = bounds[n], bounds[n + 1]
        if low is not None:
            where["$gte"] = _date(low)
        if high is not None:
            where["$lt"] = _date(high)
        assert count == await services.objects.count(ROOT, "Call", {"at": where}), n
    assert per_bucket == [4, 4, 4, 12]


async def test_a_reader_counts_only_the_objects_its_acl_lets_it_read(services: Services,
                                                                       calls: list[dict[str, Any]]) -> None:
    for ctx in (RequestContext(ANONYMOUS), U1):
        groups = dict(await services.objects.count_by(ctx, "Call", {}, ("color",)))
        for color, in groups:
            assert groups[(color,)] == await services.objects.count(ctx, "Call", {"color": color})
    anonymous = dict(await services.objects.count_by(RequestContext(ANONYMOUS), "Call", {}, ("color",)))
    assert sum(anonymous.values()) == 20  # the four only u1 may read are not counted


async def test_without_the_count_permission_it_is_refused(services: Services, calls: list[dict[str, Any]]) -> None:
    async with services.db.unit() as unit:
        await services.schemas.update_class(unit, "Call", {"classLevelPermissions": {
            "find": {"*": True}, "get": {"*": True}, "count": {}, "create": {}, "update": {}, "delete": {},
            "addField": {}}})
    with pytest.raises(OperationForbidden):
        await services.objects.count_by(U1, "Call", {}, ("color",))
    assert len(await services.objects.count_by(ROOT, "Call", {}, ("color",))) == 3


async def test_grouping_by_a_protected_or_out_of_scope_field_is_refused(services: Services,
                                                                         calls: list[dict[str, Any]]) -> None:
    async with services.db.unit() as unit:
        await services.schemas.update_class(unit, "Call", {"classLevelPermissions": {
            "find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {}, "update": {},
            "delete": {}, "addField": {}, "protectedFields": {"*": ["kind", "at"]}}})
    for fields, bucket in ((("kind",), None), (("color",), "at")):
        with pytest.raises(OperationForbidden):
            await services.objects.count_by(U1, "Call", {}, fields, bucket, EDGES)
    scoped = RequestContext(U1.principal, limits=ReadLimits(fields={"Call": frozenset({"n"})}))
    with pytest.raises(OperationForbidden):
        await services.objects.count_by(scoped, "Call", {}, ("color",))
    assert len(await services.objects.count_by(ROOT, "Call", {}, ("kind",))) == 3  # read, write, none


async def test_a_missing_class_has_no_groups_and_a_bad_where_is_a_parse_error(services: Services) -> None:
    assert await services.objects.count_by(ROOT, "Nothing", {"a": 1}, ("a",)) == []
    with pytest.raises(InvalidQuery):
        await services.objects.count_by(ROOT, "Nothing", {"a": {"$bogus": 1}}, ("a",))
