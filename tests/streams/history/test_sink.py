"""History in PostgreSQL, fed by the stream: equal to `rta replay`, idempotent, and
nothing lost or doubled across a database outage. Real broker, real PostgreSQL."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.local.postgres import LocalPostgres
from streams.local.simulate import CentreSpec, generate
from tests.support.history import db, summaries
from tests.support.http import Http
from tests.support.results import expected, tenants_file
from tests.support.workers import produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


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


def snapshot(pg: LocalPostgres) -> dict[str, Any]:
    """Every history row, and its update times, but where a second copy of the input
    is new input by design (docs/HISTORY.md):
    - a schedule message's receipt (partition, offset, time) and the directory's
      update time: a message sent again counts at its latest receipt;
    - a day summary's ``asOf`` and update time: the copy of a schedule message that a
      later one replaced applies again until the later one's copy follows it (log
      order), so its days are published in between and then as before. Their
      content must come back the same."""
    return {
        "state_events": db(pg, "SELECT * FROM state_events ORDER BY 1, 2, 3, 4"),
        "schedule_messages": db(pg, "SELECT tenant_id, agent_id, body_sha256, from_ts, to_ts, "
                                    "body::text FROM schedule_messages ORDER BY 1, 2, 3"),
        "agent_directory": db(pg, "SELECT tenant_id, acd_server_id, acd_agent_id, agent_id "
                                  "FROM agent_directory ORDER BY 1, 2, 3"),
        "day_summaries": db(pg, "SELECT tenant_id, day, agent_id, (summary - 'asOf')::text, "
                                "topic_key FROM day_summaries ORDER BY 1, 2, 3"),
        "alerts": db(pg, "SELECT tenant_id, alert_id, agent_id, start_ts, end_ts, body::text, "
                         "updated_at FROM alerts ORDER BY 1, 2"),
    }


def sink_caught_up(broker: Any, w: Any) -> bool:
    """The worker has processed every input and internal record, and its history sink
    has then read and committed every record of its topics, and says so in /metrics
    (lag 0)."""
    if broker.behind(broker.namespace, ["rta.agent-state", "rta.schedule", "rta-directory",
                                        "rta-agent-input"]):
        return False
    time.sleep(3)  # the summaries those records changed: emitted every second
    behind = broker.behind(f"{broker.namespace}-history",
                           ["rta.agent-state", "rta.schedule", "rta.adherence", "rta.alerts"])
    if behind:
        return False
    metrics = Http(f"http://127.0.0.1:{w.web_port}").call("GET", "/metrics").body.decode()
    lag = next(ln for ln in metrics.splitlines() if ln.startswith("rta_history_lag_records "))
    return float(lag.split()[1]) == 0  # written 0.0 by prometheus-client


def alerts_on_topic(broker: Any) -> list[tuple[Any, ...]]:
    """rta.alerts as the alerts table should hold it: per alert id the ended copy, else
    the started one."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _, a in topic_records(broker, "rta.alerts"):
        key = (a["tenantId"], a["alertId"])
        if key not in out or a.get("end") is not None:
            out[key] = a
    return sorted((t, i, str(a["agentId"]), a["start"], a.get("end"))
                  for (t, i), a in out.items())


def test_history_equals_replay_and_a_second_delivery_changes_nothing(
        broker: Any, workers: Any, pg: LocalPostgres, tmp_path: Path) -> None:
    records = centre()
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    n_events = distinct_events(records)
    n_schedules = sum(r["kind"] == "schedule" for r in records)
    w = workers(tenants, env={"RTA_DATABASE_URL": pg.url})
    produce(broker, records)
    wait_db_equals(pg, want, n_events, n_schedules)
    wait_for(lambda: sink_caught_up(broker, w), timeout=60)
    before = snapshot(pg)
    assert len(before["agent_directory"]) >= 10
    # the alerts table is rta.alerts: every alert, its end once ended
    table = sorted((t, i, a, s, e) for t, i, a, s, e, _, _ in before["alerts"])
    assert table and table == alerts_on_topic(broker)
    # the whole input again: once the sink has read all of it, the same rows
    produce(broker, records)
    wait_for(lambda: sink_caught_up(broker, w), timeout=120)
    after = snapshot(pg)
    for name in before:
        assert after[name] == before[name], name
    assert table == alerts_on_topic(broker)

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
