"""Retention: a worker keeps each agent's history for the lateness horizon only."""

from __future__ import annotations

import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

from streams.codec import unpack_value
from streams.local.simulate import CentreSpec, generate
from tests.streams.conftest import latest, produce, topic_records, wait_for
from tests.streams.test_end_to_end import assert_adherence_becomes, expected, tenants_file
from tests.support.brokers import TestBroker

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
    published = len(topic_records(broker, "rta.adherence"))
    worker.kill(signal.SIGKILL)
    workers(tenants, name="w1")
    wait_for(lambda: len(topic_records(broker, "rta.adherence")) > published)
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []
