"""A throwaway PostgreSQL with the history schema (the ``pg`` fixture), and reading it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from streams.history.migrate import upgrade
from streams.local.postgres import LocalPostgres


@pytest.fixture
def pg() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        upgrade(server.url)
        yield server


async def _rows(pg: LocalPostgres, sql: str) -> list[Any]:
    engine = create_async_engine(pg.url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).fetchall())
    finally:
        await engine.dispose()


def db(pg: LocalPostgres, sql: str) -> list[Any]:
    return asyncio.run(_rows(pg, sql))


def summaries(pg: LocalPostgres) -> dict[str, Any]:
    out = {}
    for tenant, agent, day, summary in db(pg, "SELECT tenant_id, agent_id, day, summary "
                                              "FROM day_summaries"):
        s = dict(summary)
        s.pop("asOf", None)
        out[f"{tenant}:{agent}:{day.isoformat()}"] = s
    return out
