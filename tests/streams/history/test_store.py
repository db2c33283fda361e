"""The history store on a real PostgreSQL: concurrent writers of the same rows (a
worker's sink and a recompute) do not deadlock."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from streams.history.rows import Rows
from streams.history.store import HistoryStore
from streams.local.postgres import LocalPostgres

pytestmark = pytest.mark.slow  # starts PostgreSQL


def _summaries(agents: range, version: int, reverse: bool) -> Rows:
    rows = Rows()
    order = reversed(agents) if reverse else agents
    for a in order:
        s = {"tenantId": "t", "agentId": a, "date": "2026-10-23", "v": version}
        rows.summaries[f"t:{a}:2026-10-23"] = {
            "tenant_id": "t", "day": date(2026, 10, 23), "agent_id": str(a), "summary": s,
            "as_of": version, "updated_at": version, "topic_key": f"t:{a}:2026-10-23"}
    return rows


def test_writers_of_the_same_summaries_in_opposite_orders_do_not_deadlock(
        pg: LocalPostgres) -> None:
    """Two transactions upserting the same 3,000 day summaries (three statements each),
    one in the opposite order: row locks taken in two orders deadlocked (seen in CI:
    `rta recompute` against the worker's sink)."""
    async def go() -> None:
        a, b = HistoryStore(pg.url), HistoryStore(pg.url)
        try:
            for round_ in range(5):
                await asyncio.gather(a.write(_summaries(range(3000), 2 * round_, False)),
                                     b.write(_summaries(range(3000), 2 * round_ + 1, True)))
            assert len(await a.day("t", "2026-10-23")) == 3000
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())
