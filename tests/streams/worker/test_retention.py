"""Retention: a worker keeps each agent's history for the lateness horizon only."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from streams.codec import unpack_value
from streams.local.simulate import CentreSpec, generate
from tests.support.brokers import TestBroker
from tests.support.results import (
    adherence_without_as_of,
    assert_adherence_becomes,
    expected,
    tenants_file,
)
from tests.support.workers import latest, produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

# a one-day horizon over a five-day log: every agent's floor moves several times
TENANTS = ('[tenants.northwind]\ntime_zone = "America/Chicago"\nalert_after_seconds = 2\n'
           "lateness_horizon_seconds = 86400\n")


def test_pruned_history_publishes_what_the_whole_history_gives(
        broker: TestBroker, workers: Any, tmp_path: Path) -> None:
    spec = CentreSpec(agents=8, days=5, start=date(2026, 3, 5), tenant="northwind",
                      time_zone="America/Chicago", seed=31, late_fraction=0.05,
                      duplicate_fraction=0.05, overnight_fraction=0.3,
                      multichannel_fraction=0.3, schedule_change_fraction=0.3,
                      identities_known_late_fraction=0.2)
    records = list(generate(spec))
    tenants = tenants_file(tmp_path, TENANTS)
    want = expected(records, tenants)  # rta replay keeps everything
    worker = workers(tenants, name="w1")
    # in chunks, as a day arrives: a whole backlog at once on a cold start lets
    # events that miss the directory (held, then released) fall more than this
    # short horizon behind later events of their identity, which it rejects
    step = len(records) // 10 + 1
    for i in range(0, len(records), step):
        produce(broker, records[i:i + step])
        time.sleep(1.5)
    assert_adherence_becomes(broker, want)
    wait_quiet(broker, "rta.adherence")
    assert adherence_without_as_of(broker) == want  # the final state, not a passing one
    assert topic_records(broker, "rta.deadletter") == []

    snapshots = {k: unpack_value(v) for k, v in latest(broker, "rta-agents-changelog").items()}
    assert len(snapshots) == 8
    for key, snap in snapshots.items():
        floor = snap["floor"]
        assert floor is not None, key
        # nothing older than one instant before the floor is kept, nor published again
        for _, _, entries, *_ in snap["identities"]:
            assert len({ts for ts, *_ in entries if ts < floor}) <= 1, key
        assert all(part[1] > floor for part in snap["schedule"]), key
        assert len(snap["emitted"]) <= 3, key  # the floor's day, the next, maybe today

    # a restart restores the pruned snapshots and publishes their days again
    # (from the floor on): unchanged
    published = Counter(k for k, _ in topic_records(broker, "rta.adherence"))
    worker.kill(signal.SIGKILL)
    workers(tenants, name="w1")
    wait_for(lambda: len(topic_records(broker, "rta.adherence")) > sum(published.values()))
    # what the restored worker published again is right in itself (the latest values
    # were right before the restart: comparing them alone would prove nothing). The
    # topic is read partition by partition: a key's new records are those after the
    # ones it had before the restart
    by_key: dict[bytes | None, list[Any]] = {}
    for key, value in wait_quiet(broker, "rta.adherence"):
        by_key.setdefault(key, []).append(value)
    after = [(key, v) for key, values in by_key.items() for v in values[published[key]:]]
    assert after
    for key, value in after:
        k = key.decode() if key else ""
        assert value is not None and k in want, k
        assert {f: v for f, v in value.items() if f != "asOf"} == want[k], k
    assert adherence_without_as_of(broker) == want
    assert topic_records(broker, "rta.deadletter") == []


def wait_quiet(broker: TestBroker, topic: str, seconds: float = 5.0
               ) -> list[tuple[bytes | None, Any]]:
    """The records of ``topic`` once none has come for ``seconds``."""
    rows = topic_records(broker, topic)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(seconds)
        again = topic_records(broker, topic)
        if len(again) == len(rows):
            return again
        rows = again
    raise AssertionError(f"{topic} did not go quiet in 120 s")
