"""The test tooling's own PostgreSQL server: starts, answers, stops and comes back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from streams.local.postgres import LocalPostgres

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


async def _query(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_local_postgres_keeps_data_across_a_restart() -> None:
    with LocalPostgres() as pg:
        asyncio.run(_query(pg.dsn, "CREATE TABLE t (x int)"))
        asyncio.run(_query(pg.dsn, "INSERT INTO t VALUES (42)"))
        assert asyncio.run(_query(pg.dsn, "SELECT x FROM t")) == 42
        pg.stop()
        try:
            asyncio.run(_query(pg.dsn, "SELECT 1"))
            raise AssertionError("the server should be down")
        except OSError:
            pass
        pg.start()
        assert asyncio.run(_query(pg.dsn, "SELECT x FROM t")) == 42
