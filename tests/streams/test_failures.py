"""Crashes and rebalances: kill -9 mid-stream, two workers with one stopped."""

from __future__ import annotations

import itertools
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from streams.local.simulate import CentreSpec, generate
from tests.streams.conftest import produce, topic_records
from tests.streams.test_end_to_end import assert_adherence_becomes, expected, tenants_file
from tests.support.brokers import TestBroker


def centre(seed: int) -> list[dict[str, Any]]:
    spec = CentreSpec(agents=10, days=2, start=date(2026, 3, 7), tenant="northwind",
                      time_zone="America/Chicago", seed=seed, late_fraction=0.05,
                      duplicate_fraction=0.05, overnight_fraction=0.3,
                      multichannel_fraction=0.3, schedule_change_fraction=0.3,
                      identities_known_late_fraction=0.2)
    return list(generate(spec))


def assert_one_id_per_out_run(broker: TestBroker) -> int:
    """The alert rules (docs/SEMANTICS.md): a re-sent alert is identical to the first
    copy (whole), each id has one ALERT_STARTED and at most one ALERT_ENDED, and an
    agent's alerts never overlap in time."""
    started: dict[str, dict[str, Any]] = {}
    ended: dict[str, dict[str, Any]] = {}
    for _, v in topic_records(broker, "rta.alerts"):
        seen = started if v["type"] == "ALERT_STARTED" else ended
        first = seen.setdefault(v["alertId"], v)
        assert first == v, f"two different {v['type']} for {v['alertId']}: {first} and {v}"
    assert set(ended) <= set(started), "an ALERT_ENDED without its ALERT_STARTED"
    ends = {aid: v["end"] for aid, v in ended.items()}
    by_agent: dict[Any, list[tuple[int, int, str]]] = {}
    for aid, v in started.items():
        by_agent.setdefault(v["agentId"], []).append((v["start"], ends.get(aid, 2**62), aid))
    for runs in by_agent.values():
        runs.sort()
        for (_, e1, a1), (s2, _, a2) in itertools.pairwise(runs):
            assert s2 >= e1, f"{a1} and {a2} describe overlapping OUT runs"
    return len(started)


@pytest.mark.tansu
def test_kill_9_at_several_points_then_restart(broker: TestBroker, workers: Any,
                                               tmp_path: Path) -> None:
    records = centre(seed=21)
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    n = len(records)
    cuts = [0, n // 4, n // 2, 3 * n // 4, n]
    worker = workers(tenants, name="w1")
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        produce(broker, records[a:b])
        if i < 3:
            # kill mid-chunk, and after a pause long enough for offsets to be committed
            # (then the restarted worker must rebuild its agents from the table)
            time.sleep([0.3, 6.0, 1.0][i])
            worker.kill(signal.SIGKILL)
            worker = workers(tenants, name="w1")
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []
    assert assert_one_id_per_out_run(broker) > 0


def test_two_workers_one_stopped_mid_stream(broker: TestBroker, workers: Any,
                                            tmp_path: Path) -> None:
    records = centre(seed=22)
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    workers(tenants, name="w1")
    w2 = workers(tenants, name="w2")
    half = len(records) // 2
    produce(broker, records[:half])
    time.sleep(2)
    w2.kill(signal.SIGKILL)  # its partitions move to w1
    produce(broker, records[half:])
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []
    assert_one_id_per_out_run(broker)


def test_rocksdb_store_survives_kill_9(broker: TestBroker, workers: Any,
                                      tmp_path: Path) -> None:
    """The production store: tables on local RocksDB (rocksdict), recovered from the
    local files plus the changelog tail after a kill -9."""
    records = centre(seed=23)
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    rocks = {"RTA_STORE": "rocksdb://"}
    worker = workers(tenants, name="w1", env=rocks)
    half = len(records) // 2
    produce(broker, records[:half])
    time.sleep(3)
    worker.kill(signal.SIGKILL)
    assert any((tmp_path / "data" / "w1").rglob("*.sst")) or any(
        (tmp_path / "data" / "w1").rglob("CURRENT")), "no RocksDB files were written"
    workers(tenants, name="w1", env=rocks)
    produce(broker, records[half:])
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []
