"""Gets by id and plain finds read the same objects, whatever path a read takes to the database.

On PostgreSQL these reads skip SQLAlchemy's execution (backend/storage/pg_direct.py); every field type, the ACL
of the reader and a refused query must come out exactly as through SQLAlchemy. Both engines run the user-level
tests; the equivalence test compares the two paths on the same connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from backend.context import Principal, PrincipalKind, RequestContext
from backend.errors import ObjectNotFound
from backend.services.data.objects import FindOptions
from backend.services.wiring import Services
from backend.storage import pg_direct
from backend.storage.postgres import PostgresStore

FIELDS: dict[str, Any] = {
    "name": "ß und 😀", "score": 2.5, "count": 7, "ok": False,
    "when": {"__type": "Date", "iso": "2024-02-29T23:59:59.123Z"},
    "tags": ["a", 1, None, {"k": [True]}], "doc": {"nested": {"x": 1.5e300}},
    "where": {"__type": "GeoPoint", "latitude": 40.5, "longitude": -73.25},
    "owner": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
}
ALICE = RequestContext(Principal(PrincipalKind.USER, user_id="alice", roles=frozenset({"staff"})))
BOB = RequestContext(Principal(PrincipalKind.USER, user_id="bob"))


async def _saved(services: Services) -> dict[str, Any]:
    acl = {"ACL": {"role:staff": {"read": True}}}
    return await services.objects.create(RequestContext.system(), "Direct", FIELDS | {"bucket": 3} | acl)


async def test_a_get_by_id_returns_every_field_type_to_a_reader_and_nothing_to_others(services: Services) -> None:
    saved = await _saved(services)
    got = await services.objects.get(ALICE, "Direct", saved["objectId"])
    assert {key: got[key] for key in FIELDS} == FIELDS
    assert got["createdAt"] == saved["createdAt"] and got["ACL"] == {"role:staff": {"read": True}}
    with pytest.raises(ObjectNotFound):
        await services.objects.get(BOB, "Direct", saved["objectId"])
    again = await services.objects.get(ALICE, "Direct", saved["objectId"])  # the cached plan, the same answer
    assert again == got


async def test_a_plain_find_returns_the_same_objects_to_each_reader(services: Services) -> None:
    saved = await _saved(services)
    await services.objects.create(RequestContext.system(), "Direct", {"bucket": 3, "name": "public"})
    found = await services.objects.find(ALICE, "Direct", FindOptions(where={"bucket": 3}, order="createdAt"))
    assert [obj.get("name") for obj in found.results] == [FIELDS["name"], "public"]
    assert found.results[0]["objectId"] == saved["objectId"] and found.results[0]["tags"] == FIELDS["tags"]
    public = await services.objects.find(BOB, "Direct", FindOptions(where={"bucket": 3}))
    assert [obj["name"] for obj in public.results] == ["public"]


async def test_a_find_built_per_request_answers_alike_and_adds_no_driver_plan(services: Services) -> None:
    """Only prebuilt statements are compiled for the driver: one built per request ($in, $or) goes through
    SQLAlchemy, so the plans kept per statement object do not grow with every such find."""
    saved = await _saved(services)
    await services.objects.create(RequestContext.system(), "Direct", {"bucket": 4, "name": "public"})
    store: Any = services.store
    plans = store._plans if isinstance(store, PostgresStore) else store._plans._plans
    for n in range(6):
        where = {"bucket": {"$in": [3, 4, 100 + n]}} if n % 2 else {"$or": [{"bucket": 3}, {"bucket": 100 + n}]}
        kept = len(plans)
        found = await services.objects.find(ALICE, "Direct", FindOptions(where=where, order="createdAt"))
        assert len(plans) == kept
        assert [obj["bucket"] for obj in found.results] == ([3, 4] if n % 2 else [3])
        assert found.results[0]["objectId"] == saved["objectId"]
        assert {key: found.results[0][key] for key in FIELDS} == FIELDS


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # the direct path is PostgreSQL's
async def test_postgres_direct_reads_equal_sqlalchemy_reads_and_fall_back_on_refusal(services: Services) -> None:
    saved = await _saved(services)
    store = services.store
    assert isinstance(store, PostgresStore)
    table = sa.table("Direct", sa.column("objectId", sa.Text()), sa.column("bucket", sa.Float()))
    statement = sa.select(table.c.objectId, table.c.bucket).where(table.c.objectId == sa.bindparam("objectId"))
    async with store.connect(read_only=True) as conn:
        direct = await store.run_read(conn, statement, {"objectId": saved["objectId"]}, prebuilt=True)
        through = await conn.execute(statement, {"objectId": saved["objectId"]})
        assert isinstance(direct, pg_direct.Rows) and list(direct.keys()) == list(through.keys())
        assert [tuple(row) for row in direct] == [tuple(row) for row in through] == [(saved["objectId"], 3.0)]
        refused = sa.select(sa.cast(sa.literal_column("1/0"), sa.Float()).label("x"))
        with pytest.raises(sa.exc.DBAPIError, match="division by zero"):  # SQLAlchemy's own error, as before
            await store.run_read(conn, refused, None, prebuilt=True)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # the direct path is PostgreSQL's
async def test_postgres_direct_inserts_write_what_sqlalchemy_writes_and_fall_back_on_refusal(
    services: Services,
) -> None:
    saved = await _saved(services)  # the table and its columns (a new class: in a transaction)
    again = await services.objects.create(RequestContext.system(), "Direct", FIELDS)  # a plain INSERT
    assert {key: (await services.objects.get(ALICE, "Direct", again["objectId"]))[key] for key in FIELDS} == FIELDS
    store = services.store
    assert isinstance(store, PostgresStore)
    created = [plan for (_, columns), plan in store._plans.items() if "createdAt" in columns]
    assert created and created[0] is not None  # the service's create took the direct way
    table = sa.table("Direct", sa.column("objectId", sa.Text()), sa.column("bucket", sa.Float()),
                     sa.column("name", sa.Text()))
    statement = sa.insert(table)
    async with store.connect(read_only=False, single_write=True) as conn:
        await store.run_insert(conn, statement, {"objectId": "d1", "bucket": 4.5, "name": "ß"}, autocommit=True)
        assert store._plan(statement, ("objectId", "bucket", "name")) is not None  # it went the direct way
        await conn.execute(statement, {"objectId": "s1", "bucket": 4.5, "name": "ß"})
        rows = await conn.execute(sa.select(table.c.bucket, table.c.name).where(table.c.objectId.in_(["d1", "s1"])))
        assert [tuple(row) for row in rows] == [(4.5, "ß"), (4.5, "ß")]
        with pytest.raises(sa.exc.IntegrityError):  # a duplicate key: SQLAlchemy's own error, as before
            await store.run_insert(conn, statement, {"objectId": saved["objectId"], "bucket": 1.0}, autocommit=True)
    count = await services.objects.find(ALICE, "Direct", FindOptions(where={"bucket": 1}))
    assert count.results == []  # the refused insert wrote nothing, on either path


async def test_reads_follow_a_schema_change_and_a_lost_connection(services: Services) -> None:
    """Tables and row decoders are kept per schema object: a new field is read as soon as the schema grows.
    A read connection SQLAlchemy has invalidated goes its way (it reconnects) and reads the same."""
    saved = await _saved(services)
    before = await services.objects.get(ALICE, "Direct", saved["objectId"])
    await services.objects.update(RequestContext.system(), "Direct", saved["objectId"], {"later": "grown"})
    after = await services.objects.get(ALICE, "Direct", saved["objectId"])
    assert after["later"] == "grown" and {k: v for k, v in after.items() if k not in ("later", "updatedAt")} == {
        k: v for k, v in before.items() if k != "updatedAt"}
    store = services.store
    if isinstance(store, PostgresStore):
        async with store.connect(read_only=True) as conn:
            await conn.invalidate()
            assert pg_direct._driver(conn) is None
            table = sa.table("Direct", sa.column("objectId", sa.Text()), sa.column("later", sa.Text()))
            statement = sa.select(table.c.objectId, table.c.later).where(table.c.objectId == saved["objectId"])
            rows = await store.run_read(conn, statement, None, prebuilt=True)
            assert [tuple(row) for row in rows] == [(saved["objectId"], "grown")]
    again = await services.objects.get(ALICE, "Direct", saved["objectId"])
    assert again == after


ODD_ROLES = ["a b", "quo'te", 'dq"x', "per%cent", "back\\slash", "com,ma", "q?|", "ß😀", "semi;--", "x" * 200]


async def test_each_reader_of_many_role_sets_gets_exactly_its_rows_even_as_cached_statements_churn(
        services: Services) -> None:
    """A direct read binds the reader's ACL names into a statement cached per name set. Readers with 0 to 200
    roles (odd names among them), read concurrently while the statement cache is tiny (statements are dropped
    and built again, ids reused), each get exactly the rows the master sees minus those its ACL names miss."""
    services.store.statements.size = 4  # type: ignore[attr-defined]  # churn: every few reads start over
    system = RequestContext.system()
    readers = [frozenset(), frozenset(ODD_ROLES[:1]), frozenset(ODD_ROLES), frozenset(f"r{n}" for n in range(200)),
               frozenset({*ODD_ROLES[3:6], "r7"}), frozenset({"r199"})]
    grants = [*ODD_ROLES, "r7", "r199", "r0", "nobody"]
    made = [{"grant": grant} | await services.objects.create(system, "Roled", {
        "bucket": 1, "grant": grant, "ACL": {f"role:{grant}": {"read": True}}}) for grant in grants]
    made.append({"grant": "*"} | await services.objects.create(system, "Roled", {"bucket": 1, "grant": "*"}))

    async def check(index: int, roles: frozenset[str]) -> None:
        ctx = RequestContext(Principal(PrincipalKind.USER, user_id=f"u{index}", roles=roles))
        expected = sorted(obj["grant"] for obj in made if obj["grant"] in roles | {"*"})
        found = await services.objects.find(ctx, "Roled", FindOptions(where={"bucket": 1}, limit=100))
        assert sorted(obj["grant"] for obj in found.results) == expected, roles
        for obj in made:
            try:
                got = (await services.objects.get(ctx, "Roled", obj["objectId"]))["grant"]
            except ObjectNotFound:
                got = None
            assert got == (obj["grant"] if obj["grant"] in expected else None)

    for _ in range(3):
        await asyncio.gather(*(check(index, roles) for index, roles in enumerate(readers * 3)))
