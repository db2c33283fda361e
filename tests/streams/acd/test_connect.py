"""`rta connect` as users run it, on the real broker: complete, in order, no gap, across
a kill -9 and a restart; /livez, /metrics and SIGTERM; a simulated day through the
connector and the engine equals `rta replay` of the canonical events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rta.states import LOGOUT, NOT_READY, READY, TALKING, WORK_READY
from streams.local.acd_sim import ccai_day, omni_day, to_ccai_logs, to_omni_rows
from streams.local.broker import free_port
from streams.local.fake_ccai import DEFAULT_STATUSES, FakeCcai, format_time
from streams.local.fake_omni import FakeOmni
from tests.support.acd import CCAI_TOKEN, OMNI_KEY, OMNI_LOGIN, OMNI_PASSWORD, T0, effective
from tests.support.acd import ccai_record as record
from tests.support.brokers import TestBroker
from tests.support.processes import stop_gently
from tests.support.results import assert_adherence_becomes, expected
from tests.support.workers import produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers and rta connect


STARTED: list[Connect] = []


@pytest.fixture(autouse=True)
def _stop_connectors() -> Iterator[None]:
    """Whatever a test leaves running (it failed half-way) is stopped."""
    yield
    while STARTED:
        STARTED.pop().stop()


class Connect:
    """``rta connect SOURCE`` as a subprocess on the test's broker."""

    def __init__(self, broker: TestBroker, tmp: Path, source: str, config: str,
                 env: dict[str, str]) -> None:
        self.path = tmp / f"{source}.toml"
        self.path.write_text(config)
        self.broker, self.source, self.env = broker, source, env
        self.log = tmp / f"connect-{source}.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Connect:
        out = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "connect", self.source, "--config",
             str(self.path), "--broker", self.broker.url, "--web-port", str(self.port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "RTA_WEB_BIND": "127.0.0.1",
                                         **self.broker.env, **self.env})
        STARTED.append(self)
        wait_for(lambda: self.get("/livez") or self._died(), timeout=60, every=0.2)
        return self

    def _died(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"rta connect exited: {self.log.read_text()[-3000:]}")

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                body = r.read()
        except OSError:
            return None
        return orjson.loads(body) if path == "/livez" else body.decode()

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        if self.proc is None:
            return None
        os.killpg(self.proc.pid, sig)
        code = self.proc.wait(30)
        self.proc = None
        return code

    def stop(self) -> None:
        if self.proc is not None:
            stop_gently(self.proc)
            self.proc = None


def ccai_file(url: str, **more: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in more.items())
    return (f'[connector]\ntenant = "demo"\nacd_server_id = "ccai"\nbase_url = "{url}"\n'
            f'poll_seconds = 0.2\nrate_limit_per_second = 25.0\nretry_max_seconds = 1.0\n'
            f'start_from = "2026-03-01T00:00:00Z"\n{extra}'
            '[ccai]\nsubdomain = "acme"\nper_page = 50\nreconcile = false\n')


def states(broker: TestBroker, committed: bool = True) -> list[dict[str, Any]]:
    return [v for _, v in topic_records(broker, "rta.agent-state", idle=1.0,
                                        committed=committed) if v]


@pytest.mark.tansu
def test_kill_9_and_restart_lose_nothing_and_keep_each_identitys_order(
        broker: TestBroker, tmp_path: Path) -> None:
    fake = FakeCcai(rate_per_second=1000).start()
    try:
        wfm = (11, 34, 33, 29, 12, 31)
        fake.add_logs(record(300 + i % 40, T0 + (i // 40) * 1000, wfm[(i // 40) % 6])
                      for i in range(3000))
        want = {f"ccai:acme:log:{i:020d}" for i in range(1, 3001)}
        conn = Connect(broker, tmp_path, "ccai", ccai_file(fake.url),
                       {"RTA_CCAI_TOKEN": CCAI_TOKEN}).start()
        wait_for(lambda: fake.requests["/manager/api/v1/agent_activity_logs"] >= 15,
                 timeout=60, every=0.05)
        assert conn.kill() == -signal.SIGKILL
        published_before = len(states(broker))
        assert 0 < published_before < 3000
        conn.start()
        got = wait_for(lambda: (lambda s: s if {e["eventId"] for e in s} >= want else None)(
            states(broker)), timeout=120, every=1.0)
        ids = [e["eventId"] for e in got]
        assert set(ids) == want  # complete: no gap
        dups = len(ids) - len(set(ids))
        # Apache Kafka: each page and its checkpoint in one transaction, so a reader
        # of committed records sees each event once; the page in flight at the kill
        # was aborted, and is in the log only for uncommitted readers (the engine's
        # workers, which apply an eventId once)
        if broker.kind == "kafka":
            assert dups == 0
            assert "no transactions" not in conn.log.read_text()
        else:  # Tansu has no transactions: at least once, the page in flight again
            assert dups <= 50
            assert "no transactions" in conn.log.read_text()
        everything = states(broker, committed=False)
        aborted = len(everything) - len(got)
        first: dict[str, list[tuple[int, str]]] = defaultdict(list)
        seen: set[str] = set()
        for e in got:
            if e["eventId"] not in seen:
                seen.add(e["eventId"])
                first[e["acdAgentId"]].append((e["timestamp"], e["eventId"]))
        for ident, seq in first.items():
            assert seq == sorted(seq), f"identity {ident} out of order"
        live = conn.get("/livez")
        assert live["live"] and live["platformUp"] and live["brokerUp"]
        metrics = conn.get("/metrics")
        assert "rta_connector_events_total" in metrics
        assert "rta_connector_requests_total" in metrics
        # SIGTERM: the step in hand is finished, then exit 0
        assert conn.kill(signal.SIGTERM) == 0
        print(f"\nkill -9 after {published_before} of 3000 events; {aborted} events of an "
              "aborted transaction (the page in flight) in the log for uncommitted readers")
    finally:
        fake.stop()


@pytest.mark.tansu
def test_omni_kill_9_and_restart_lose_nothing(broker: TestBroker, tmp_path: Path) -> None:
    from streams.local.acd_sim import omni_paging_rows

    zone = "America/Sao_Paulo"
    fake = FakeOmni(time_zone=zone, page_size=100).start()
    try:
        fix = omni_paging_rows(time_zone=zone)  # 2,750 rows: 28 pages of 100
        fake.add_rows(fix.rows)
        config = (f'[connector]\ntenant = "demo"\nacd_server_id = "omni"\nbase_url = '
                  f'"{fake.url}"\npoll_seconds = 0.2\nrate_limit_per_second = 25.0\n'
                  'start_from = "2026-03-06 00:00:00"\n[omni]\norganization = "org-1"\n'
                  f'login = "{OMNI_LOGIN}"\ntime_zone = "{zone}"\ndashboard = false\n'
                  'history_poll_seconds = 0.5\npage_size = 100\n')
        env = {"RTA_OMNI_API_KEY": OMNI_KEY, "RTA_OMNI_PASSWORD": OMNI_PASSWORD}
        conn = Connect(broker, tmp_path, "omni", config, env).start()
        wait_for(lambda: fake.requests["/ReportsApi/activity-history"] >= 8, timeout=60,
                 every=0.05)
        conn.kill()
        before = len(states(broker))
        conn.start()
        want = 2 * len(fix.rows)  # every row closed: its start and its end
        got = wait_for(lambda: (lambda s: s if len({e["eventId"] for e in s}) >= want
                                else None)(states(broker)), timeout=120)
        ids = [e["eventId"] for e in got]
        assert len(set(ids)) == want
        if broker.kind == "kafka":
            assert len(ids) == len(set(ids))
        assert effective(got) == effective(fix.canonical)
        conn.kill(signal.SIGTERM)
        print(f"\nomni: kill -9 after {before} of {want} events")
    finally:
        fake.stop()


def _tenants(tmp_path: Path, zone: str) -> Path:
    p = tmp_path / "tenants.toml"
    p.write_text(f'[tenants.demo]\ntime_zone = "{zone}"\n')
    return p


@pytest.mark.parametrize("source", ["ccai", "omni"])
def test_a_simulated_day_through_connector_and_engine_equals_replay(
        broker: TestBroker, tmp_path: Path, workers: Any, source: str) -> None:
    """50 agents: the platform's records -> rta connect -> rta.agent-state -> the
    worker; rta.adherence equals `rta replay` of the schedules and the canonical
    events the simulation started from."""
    last: dict[str, dict[str, Any]] = {}  # each identity's state at the end of the day
    if source == "ccai":
        day = ccai_day(seed=7, agents=50)
        zone = "America/Chicago"
        fake: Any = FakeCcai(rate_per_second=1000).start()
        fake.add_logs(to_ccai_logs(day.canonical))
        for e in day.canonical:
            last[e["acdAgentId"]] = e
        # the live view agrees with the log: reconciling (at once) must add nothing
        by_wfm = {s["wfm_id"]: s for s in DEFAULT_STATUSES}
        wfm = {READY: 11, TALKING: 34, WORK_READY: 33}
        fake.set_current([
            {"id": int(a), "status": by_wfm[w]["name"], "status_id": by_wfm[w]["id"],
             "status_updated_at": format_time(e["timestamp"]), "on_hold": False,
             "on_hold_duration": 0}
            for a, e in last.items() if e["gisStateIdentifier"] != LOGOUT
            for w in [wfm.get(e["gisStateIdentifier"]) or e["reasonCode"]]])
        config = ccai_file(fake.url).replace("reconcile = false",
                                             "reconcile = true\nreconcile_after_seconds = 0")
        env = {"RTA_CCAI_TOKEN": CCAI_TOKEN}
    else:
        zone = "America/Sao_Paulo"
        day = omni_day(seed=7, agents=50, time_zone=zone)
        fake = FakeOmni(time_zone=zone).start()
        fake.add_rows(to_omni_rows(day.canonical, zone, day.roster))
        for e in day.canonical:
            last[e["acdAgentId"]] = e
        # the dashboard shows the day's last states, by alias (resolved through the
        # report's user names): it must add nothing
        status = {LOGOUT: "offline", READY: "available", NOT_READY: "pause"}
        fake.set_dashboard([
            {"agent": a.alias, "user_short_name": a.name, "capacity": None, "status":
             status[last[a.acd_agent_id]["gisStateIdentifier"]] if a.acd_agent_id in last
             else "offline", "attendance": []} for a in day.roster])
        config = (f'[connector]\ntenant = "demo"\nacd_server_id = "omni"\nbase_url = '
                  f'"{fake.url}"\npoll_seconds = 0.5\nrate_limit_per_second = 25.0\n'
                  'start_from = "2026-03-06 00:00:00"\n[omni]\norganization = "org-1"\n'
                  f'login = "{OMNI_LOGIN}"\ntime_zone = "{zone}"\ndashboard = true\n'
                  'history_poll_seconds = 1.0\n')
        env = {"RTA_OMNI_API_KEY": OMNI_KEY, "RTA_OMNI_PASSWORD": OMNI_PASSWORD}
    try:
        tenants = _tenants(tmp_path, zone)
        records = ([{"kind": "schedule", "body": s} for s in day.schedules]
                   + [{"kind": "state", "body": e} for e in day.canonical])
        want = expected(records, tenants)
        workers(tenants)
        produce(broker, [r for r in records if r["kind"] == "schedule"])
        started = time.monotonic()
        conn = Connect(broker, tmp_path, source, config, env).start()
        assert_adherence_becomes(broker, want, timeout=240)
        took = time.monotonic() - started
        metrics = conn.get("/metrics")
        conn.stop()
        print(f"\n{source}: {len(day.canonical)} canonical events of 50 agents: adherence "
              f"equal to replay after {took:.1f} s")
        assert "rta_connector_unmapped_total 0.0" in metrics
        published = states(broker)
        live = [e for e in published
                if e["eventId"].split(":")[2] in ("fix", "hold", "unhold", "d", "r")]
        # the live view agreed with the log: no change from it (the dashboard publishes
        # each agent once, to carry its chat figures, in the state the report left)
        changes = [e for e in live if e["eventId"].split(":")[2] != "d"
                   or (e["gisStateIdentifier"], e["reasonCode"]) != (
                       last[e["acdAgentId"]]["gisStateIdentifier"],
                       last[e["acdAgentId"]]["reasonCode"])]
        assert changes == []
        print(f"{source}: {len({e['eventId'] for e in published})} events published, "
              f"{len(live)} from the live view, none a change")
    finally:
        fake.stop()


def test_a_connector_inside_a_worker(broker: TestBroker, tmp_path: Path, workers: Any) -> None:
    fake = FakeCcai(rate_per_second=1000).start()
    try:
        fake.add_logs(record(300 + i % 5, T0 + i * 1000, (11, 34, 33)[i % 3])
                      for i in range(120))
        path = tmp_path / "ccai.toml"
        path.write_text(ccai_file(fake.url).replace("[connector]\n",
                                                    '[connector]\nsource = "ccai"\n', 1))
        w = workers(None, env={"RTA_CONNECT_CONFIG": str(path), "RTA_CCAI_TOKEN": CCAI_TOKEN})
        got = wait_for(lambda: (lambda s: s if len({e["eventId"] for e in s}) == 120
                                else None)(states(broker)), timeout=60)
        assert {e["acdAgentId"] for e in got} == {str(300 + i) for i in range(5)}

        def metrics() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{w.web_port}/metrics",
                                        timeout=5) as r:
                return r.read().decode()

        assert wait_for(lambda: "rta_connector_events_total 120.0" in metrics(), timeout=30)
        assert "\nrta_connector_platform_up 1.0\n" in metrics()  # its health, here too
    finally:
        fake.stop()
