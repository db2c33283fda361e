"""`rta migrate` on a real PostgreSQL: up and down, empty and populated; the
migrations match the table definitions; an unmigrated database is named."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from streams.history.migrate import NotMigrated, check, current, head
from streams.history.schema import metadata
from streams.local.broker import free_port
from streams.local.postgres import LocalPostgres

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


@pytest.fixture
def empty_pg() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


def migrate(empty_pg: LocalPostgres, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "migrate", "--database-url",
                          empty_pg.url, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stderr


async def sql(empty_pg: LocalPostgres, statement: str) -> Any:
    engine = create_async_engine(empty_pg.url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement))
            return result.fetchall() if result.returns_rows else None
    finally:
        await engine.dispose()


async def differences(empty_pg: LocalPostgres) -> list[Any]:
    engine = create_async_engine(empty_pg.url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()


def tables(empty_pg: LocalPostgres) -> set[str]:
    rows = asyncio.run(sql(empty_pg, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    return {r[0] for r in rows} - {"alembic_version"}


def test_migrations_up_and_down_on_empty_and_populated(empty_pg: LocalPostgres) -> None:
    with pytest.raises(NotMigrated, match="rta migrate"):
        asyncio.run(check(empty_pg.url))
    assert "none -> " + head() in migrate(empty_pg)
    asyncio.run(check(empty_pg.url))  # at head now
    assert tables(empty_pg) == {"state_events", "schedule_messages", "agent_directory",
                          "day_summaries", "alerts"}
    assert asyncio.run(differences(empty_pg)) == []  # the migrations make exactly the tables
    assert "-> " + head() in migrate(empty_pg)  # again: nothing to do

    # populated: down to nothing and up again
    asyncio.run(sql(empty_pg, "INSERT INTO day_summaries VALUES ('t', '2026-03-01', '7', "
                        "'{\"x\": 1}', 1, 1, 't:7:2026-03-01')"))
    asyncio.run(sql(empty_pg, "INSERT INTO state_events (tenant_id, acd_server_id, acd_agent_id, "
                        "event_key, ts, state, received_at) VALUES ('t', '1', 'a', 'e1', 1, 3, 1)"))
    migrate(empty_pg, "--downgrade", "base")
    assert tables(empty_pg) == set()
    assert asyncio.run(current(empty_pg.url)) is None
    migrate(empty_pg)
    assert asyncio.run(check(empty_pg.url)) is None
    assert asyncio.run(sql(empty_pg, "SELECT count(*) FROM day_summaries")) == [(0,)]


def test_migrate_without_a_database_says_what_to_set() -> None:
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "migrate"],
                         capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "RTA_DATABASE_URL" in out.stderr


def test_the_worker_refuses_an_unmigrated_database(empty_pg: LocalPostgres) -> None:
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "worker", "--broker",
                          "kafka://127.0.0.1:1", "--database-url", empty_pg.url,
                          "--web-port", str(free_port())],  # not 6066: a running rta up
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "has no rta schema" in out.stderr and "rta migrate" in out.stderr
