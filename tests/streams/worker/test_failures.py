"""Crashes and rebalances: kill -9 mid-stream, two workers with one stopped."""

from __future__ import annotations

import itertools
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.brokers import TestBroker
from tests.support.results import (
    assert_adherence_becomes,
    assert_one_id_per_out_run,
    expected,
    failure_centre,
    tenants_file,
)
from tests.support.workers import produce, topic_records

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


@pytest.mark.tansu
def test_kill_9_at_several_points_then_restart(broker: TestBroker, workers: Any,
                                               tmp_path: Path) -> None:
    records = failure_centre(seed=21)
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
    records = failure_centre(seed=22)
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
    records = failure_centre(seed=23)
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
