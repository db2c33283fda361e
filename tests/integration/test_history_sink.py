"""History in PostgreSQL, fed by the stream: equal to `rta replay`, idempotent, and
nothing lost or doubled across a database outage. Real broker, real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from streams.history.migrate import upgrade
from streams.local.postgres import LocalPostgres
from streams.local.simulate import CentreSpec, generate
from tests.api.conftest import Http
from tests.streams.conftest import produce, wait_for
from tests.streams.test_end_to_end import expected, tenants_file


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


def distinct_events(records: list[dict[str, Any]]) -> int:
    """Valid state events, once per event id (or per content without one)."""
    keys = set()
    for r in records:
        if r["kind"] != "state":
            continue
        b = r["body"]
        ident = (b["tenantId"], str(b.get("acdServerId", "1")), str(b["acdAgentId"]))
        reason = b.get("reasonCode")
        reason = None if reason is None or str(reason).strip() == "" else str(reason)
        what = ("id", b["eventId"]) if b.get("eventId") else (
            b["timestamp"], int(b["gisStateIdentifier"]), reason)
        keys.add((ident, what))
    return len(keys)


def centre() -> list[dict[str, Any]]:
    spec = CentreSpec(agents=10, days=2, start=date(2026, 10, 31), tenant="northwind",
                      time_zone="America/Chicago", seed=8, late_fraction=0.05,
                      duplicate_fraction=0.1, multichannel_fraction=0.3,
                      schedule_change_fraction=0.3)
    return list(generate(spec))


def wait_db_equals(pg: LocalPostgres, want: dict[str, Any], events: int, schedules: int,
                   timeout: float = 120) -> None:
    def same() -> bool:
        return (summaries(pg) == want
                and db(pg, "SELECT count(*) FROM state_events") == [(events,)]
                and db(pg, "SELECT count(*) FROM schedule_messages") == [(schedules,)])
    wait_for(same, timeout=timeout, every=1)


def test_history_equals_replay_and_a_second_delivery_changes_nothing(
        broker: Any, workers: Any, pg: LocalPostgres, tmp_path: Path) -> None:
    records = centre()
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    n_events = distinct_events(records)
    n_schedules = sum(r["kind"] == "schedule" for r in records)
    workers(tenants, env={"RTA_DATABASE_URL": pg.url})
    produce(broker, records)
    wait_db_equals(pg, want, n_events, n_schedules)
    directory = db(pg, "SELECT tenant_id, acd_server_id, acd_agent_id, agent_id "
                       "FROM agent_directory ORDER BY 1, 2, 3")
    assert len(directory) >= 10
    # the whole input again: the same rows, summaries and directory
    produce(broker, records)
    time.sleep(5)
    wait_db_equals(pg, want, n_events, n_schedules, timeout=60)
    assert db(pg, "SELECT tenant_id, acd_server_id, acd_agent_id, agent_id "
                  "FROM agent_directory ORDER BY 1, 2, 3") == directory
    alerts = db(pg, "SELECT count(*), count(end_ts) FROM alerts")
    assert alerts[0][0] > 0


def test_a_database_outage_loses_and_doubles_nothing(
        broker: Any, workers: Any, pg: LocalPostgres, tmp_path: Path) -> None:
    records = centre()
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    w = workers(tenants, env={"RTA_DATABASE_URL": pg.url})
    half = len(records) // 2
    produce(broker, records[:half])
    wait_for(lambda: db(pg, "SELECT count(*) FROM state_events")[0][0] > 0, timeout=60)
    pg.stop()
    down_at = time.monotonic()
    produce(broker, records[half:])
    time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))  # 30 s without the database
    metrics = Http(f"http://127.0.0.1:{w.web_port}").call("GET", "/metrics").body.decode()
    assert "rta_history_database_up 0" in metrics
    lag = next(ln for ln in metrics.splitlines() if ln.startswith("rta_history_lag_records "))
    assert float(lag.split()[1]) > 0  # the backlog is visible
    pg.start()
    wait_db_equals(pg, want, distinct_events(records),
                   sum(r["kind"] == "schedule" for r in records))
    assert "history database write failed" in w.log.read_text()
    assert orjson.dumps(summaries(pg), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        want, option=orjson.OPT_SORT_KEYS)
