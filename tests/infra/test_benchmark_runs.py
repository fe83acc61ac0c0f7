"""benchmarks.crud's servers: each run has databases and ports of its own and leaves no database behind."""

from __future__ import annotations

import asyncio
import socket

import asyncpg

from benchmarks.servers import ANCHOR_PORTS, ScratchDatabase, run_ports
from tests.support.postgres import PostgresCluster


def databases(admin_url: str) -> set[str]:
    async def names() -> set[str]:
        conn = await asyncpg.connect(admin_url)
        try:
            return {row[0] for row in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return asyncio.run(names())


def test_two_runs_on_one_cluster_keep_their_own_databases_and_drop_only_theirs(pg_cluster: PostgresCluster) -> None:
    admin = pg_cluster.url()
    first, second = ScratchDatabase(admin, "ballast_bench_1"), ScratchDatabase(admin, "ballast_bench_1")
    assert first.name != second.name and first.name.startswith("ballast_bench_1_")
    with first as first_url:
        with second as second_url:
            assert first_url != second_url and {first.name, second.name} <= databases(admin)
            conn_url = first_url
        assert second.name not in databases(admin) and first.name in databases(admin)  # the other run's stays
        assert asyncio.run(_answers(conn_url))
    assert first.name not in databases(admin)


def test_a_run_that_fails_still_drops_its_database(pg_cluster: PostgresCluster) -> None:
    admin = pg_cluster.url()
    scratch = ScratchDatabase(admin, "ballast_bench_bare")
    try:
        with scratch:
            raise RuntimeError("the benchmark broke")
    except RuntimeError:
        pass
    assert scratch.name not in databases(admin)


def test_ports_are_free_and_never_the_anchors_unless_a_first_port_is_given() -> None:
    chosen = run_ports(0)
    ports = {chosen(offset) for offset in (0, 1, 50, 100)}
    assert not ports & set(ANCHOR_PORTS)
    for port in ports:  # each free when chosen: binding it works
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    fixed = run_ports(1400)
    assert [fixed(0), fixed(1), fixed(50)] == [1400, 1401, 1450]  # --port keeps the old layout


async def _answers(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()
