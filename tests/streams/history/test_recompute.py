"""A schedule corrected for a day 45 days back, far behind the workers' lateness
horizon: a recompute fixes that day, and only that day, in the database and on
rta.adherence, by itself and with `rta recompute`. Real broker, real PostgreSQL, the
worker as users run it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from streams.api.auth import hash_api_key
from streams.codec import unpack_value
from streams.local.postgres import LocalPostgres
from streams.local.simulate import CentreSpec, generate
from tests.support.history import db, summaries
from tests.support.http import Http
from tests.support.results import expected, tenants_file
from tests.support.workers import latest, produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

TENANTS = ('[tenants.northwind]\ntime_zone = "America/Chicago"\nalert_after_seconds = 2\n'
           f'api_keys = ["{hash_api_key("rk-key")}"]\n')
ZONE = ZoneInfo("America/Chicago")


def stored(pg: LocalPostgres) -> dict[str, tuple[Any, int]]:
    return {f"{t}:{a}:{d.isoformat()}": (s, u) for t, a, d, s, u in db(
        pg, "SELECT tenant_id, agent_id, day, summary, updated_at FROM day_summaries")}


def test_recompute_fixes_a_day_45_days_back_and_only_it(
        broker: Any, workers: Any, pg: LocalPostgres, tmp_path: Path) -> None:
    today = datetime.now(ZONE).date()
    first = today - timedelta(days=46)
    fixed_day = first + timedelta(days=1)  # 45 days back
    # ten days of data and the default 7-day horizon: the first days are final on the
    # worker (pruned from its state) by the time the correction comes
    spec = CentreSpec(agents=6, days=10, start=first, tenant="northwind",
                      time_zone="America/Chicago", seed=21, multichannel_fraction=0.3)
    records = list(generate(spec))
    tenants = tenants_file(tmp_path, TENANTS)
    want = expected(records, tenants)
    # the API's views keep one day: older days are answered from the database
    # (few identities leave some state partitions empty: they count as idle after 3 s
    # of silence here, not the default week, so the watermark lets the worker prune)
    w = workers(tenants, env={"RTA_DATABASE_URL": pg.url, "RTA_API_HISTORY_DAYS": "1",
                              "RTA_WATERMARK_IDLE_SECONDS": "3"})
    produce(broker, records)
    wait_for(lambda: summaries(pg) == want, timeout=120, every=1)
    wait_for(lambda: _pruned(broker, "1002", fixed_day), timeout=60)
    n_schedules = db(pg, "SELECT count(*) FROM schedule_messages")[0][0]

    # the WFM corrects agent 1002's schedule of that day: the whole shift in service
    lo = int(datetime.combine(fixed_day, datetime.min.time(), ZONE).timestamp() * 1000)
    original = next(r["body"] for r in records if r["kind"] == "schedule"
                    and r["body"]["agentId"] == 1002 and r["body"]["fromTimestamp"] == lo)
    shift = [a for a in original["activities"] if a["startTime"] >= lo]
    correction = {**original, "activities": [{
        "activityType": "IN_SERVICE", "startTime": min(a["startTime"] for a in shift),
        "endTime": max(a["endTime"] for a in shift)}]}
    corrected = [*records, {"kind": "schedule", "body": correction}]
    want2 = expected(corrected, tenants)
    key = f"northwind:1002:{fixed_day.isoformat()}"
    assert want2[key] != want[key]  # the correction matters ...
    assert {k: v for k, v in want2.items() if k != key} == {
        k: v for k, v in want.items() if k != key}  # ... for that day only

    produce(broker, [{"kind": "schedule", "body": correction}])
    # the worker has pruned that day: it asks for a recompute, which a worker runs
    wait_for(lambda: summaries(pg) == want2, timeout=90, every=1)
    log = w.log.read_text()
    assert "automatic recomputed 1 day summaries of 1 agents" in log
    assert db(pg, "SELECT count(*) FROM schedule_messages")[0][0] == n_schedules + 1
    time.sleep(3)  # the worker re-emits the retained days the window touches (same values)
    before = stored(pg)

    # by hand, for the whole day: the same values; no other day is even rewritten
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "recompute", "--tenant",
                          "northwind", "--from", fixed_day.isoformat(), "--to",
                          fixed_day.isoformat(), "--tenants", str(tenants), "--database-url",
                          pg.url, "--broker", broker.url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "recomputed 6 day summaries" in out.stderr
    assert topic_records(broker, "rta.deadletter") == []

    after = stored(pg)
    assert summaries(pg) == want2
    for k, (summary, updated) in before.items():
        if not k.endswith(fixed_day.isoformat()):
            assert after[k] == (summary, updated), k  # other days: not even rewritten
    topic = latest(broker, "rta.adherence")
    assert {f: v for f, v in topic[key].items() if f != "asOf"} == want2[key]

    # the adherence endpoint answers that day from the database
    api = Http(f"http://127.0.0.1:{w.web_port}")
    r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={fixed_day}&pageSize=200",
                 key="rk-key")
    assert r.status == 200
    day_want = [v for k, v in sorted(want2.items()) if k.endswith(fixed_day.isoformat())]
    got = [{f: v for f, v in s.items() if f != "asOf"} for s in r.json]
    assert sorted(got, key=lambda s: s["agentId"]) == sorted(day_want,
                                                             key=lambda s: s["agentId"])
    one = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={fixed_day}"
                          "&agentId=1002", key="rk-key").json
    assert [{f: v for f, v in s.items() if f != "asOf"} for s in one] == [want2[key]]


@pytest.mark.parametrize("jobs", [1, 3])
def test_recompute_in_processes_equals_replay(pg: LocalPostgres, tmp_path: Path,
                                              jobs: int) -> None:
    """Several processes share the agents out (--jobs): every summary as `rta replay`
    gives it, each written once."""
    import asyncio
    from datetime import date

    from rta.config import TenantsConfig
    from streams.history.runner import recompute
    from streams.local.bench_recompute import TENANT, _load
    from streams.settings import WorkerSettings

    start = date(2026, 3, 6)  # across the spring-forward day
    spec = CentreSpec(agents=130, days=3, start=start, tenant=TENANT,
                      time_zone="America/Chicago", seed=5, multichannel_fraction=0.3)
    records = list(generate(spec))
    asyncio.run(_load(pg.dsn, records, 0))
    text = f'[tenants.{TENANT}]\ntime_zone = "America/Chicago"\n'
    days = {(start + timedelta(days=i)).isoformat() for i in range(3)}
    want = {k: v for k, v in expected(records, tenants_file(tmp_path, text)).items()
            if v["date"] in days}  # not the overnight shifts' day after
    stats = asyncio.run(recompute(
        WorkerSettings(database_url=pg.url), TenantsConfig.from_toml(text), TENANT, start,
        start + timedelta(days=2), None, int(time.time() * 1000), publish=False, jobs=jobs))
    assert stats["agents"] == 130 and stats["summaries"] == len(want) == 130 * 3
    assert summaries(pg) == want


def test_a_state_event_before_the_retained_history_is_recomputed(
        broker: Any, workers: Any, pg: LocalPostgres, tmp_path: Path) -> None:
    """An agent's new channel (named by a schedule message of its last day) reports a
    state 45 days back: its identity's horizon admits it (the identity has no other
    event), but the days it changes are final on the worker. With a history database
    the worker asks for a recompute of that day instead of dead-lettering the event,
    and the day ends as `rta replay` has it."""
    today = datetime.now(ZONE).date()
    first = today - timedelta(days=46)
    fixed_day = first + timedelta(days=1)
    spec = CentreSpec(agents=4, days=10, start=first, tenant="northwind",
                      time_zone="America/Chicago", seed=22, multichannel_fraction=0.0)
    records = list(generate(spec))
    tenants = tenants_file(tmp_path, TENANTS)
    w = workers(tenants, env={"RTA_DATABASE_URL": pg.url, "RTA_WATERMARK_IDLE_SECONDS": "3"})
    produce(broker, records)
    want = expected(records, tenants)
    wait_for(lambda: summaries(pg) == want, timeout=120, every=1)
    wait_for(lambda: _pruned(broker, "1001", fixed_day), timeout=60)

    last_schedule = [r["body"] for r in records if r["kind"] == "schedule"
                     and r["body"]["agentId"] == 1001][-1]
    naming = {**last_schedule, "acdIdentities": [{"acdServerId": "2", "acdAgentId": "chat-9"}]}
    at = int(datetime.combine(fixed_day, datetime.min.time(), ZONE).timestamp() * 1000) \
        + 10 * 3_600_000  # 10:00 that day
    late = [{"kind": "schedule", "body": naming},
            *({"kind": "state", "body": {"tenantId": "northwind", "acdServerId": "2",
                                         "acdAgentId": "chat-9", "gisStateIdentifier": gis,
                                         "timestamp": at + dt, "eventId": f"late-chat-9-{gis}"}}
              for gis, dt in ((3, 0), (1, 3_600_000)))]
    want2 = expected([*records, *late], tenants)
    key = f"northwind:1001:{fixed_day.isoformat()}"
    assert want2[key] != want[key]  # READY on chat from 10:00 to 11:00 that day
    assert {k: v for k, v in want2.items() if k != key} == {
        k: v for k, v in want.items() if k != key}
    produce(broker, late)
    wait_for(lambda: summaries(pg) == want2, timeout=90, every=1)
    # the range runs to the day before the agent's floor, which the watermark may have
    # moved on by then: one day or more, all of them equal to replay (checked above)
    assert re.search(r"automatic recomputed \d+ day summaries of 1 agents", w.log.read_text())
    assert "a state event before the retained history" in w.log.read_text()
    assert topic_records(broker, "rta.deadletter") == []
    topic = latest(broker, "rta.adherence")
    assert {f: v for f, v in topic[key].items() if f != "asOf"} == want2[key]


def _pruned(broker: Any, agent: str, day: Any) -> bool:
    """The agent's snapshot has a floor past ``day`` (final on the worker)."""
    snap = unpack_value(latest(broker, "rta-agents-changelog").get(f'"northwind:{agent}"')) or {}
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZONE)
    return bool(snap.get("floor")) and snap["floor"] >= end.timestamp() * 1000
