"""What Tansu could never do: the broker stops and starts again (data kept) while
a worker runs. The worker reconnects by itself; results equal `rta replay`."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from streams.local.kafka import KafkaBroker
from tests.support.brokers import TestBroker
from tests.support.results import assert_adherence_becomes, expected, failure_centre, tenants_file
from tests.support.workers import Worker, produce, topic_records

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


def test_broker_restarted_mid_stream(tmp_path: Path) -> None:
    records = failure_centre(seed=24)
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    third = len(records) // 3
    # a broker of its own (the session's is shared), default topic names
    with KafkaBroker(data_dir=tmp_path / "kafka") as server:
        broker = TestBroker(server, "rta")
        import asyncio

        from streams.topics import ensure_topics

        asyncio.run(ensure_topics(broker.settings()))
        worker = Worker(broker, tmp_path, tenants, "w1").start()
        try:
            produce(broker, records[:third])
            time.sleep(2)
            server.stop()  # a clean broker shutdown while the worker runs
            time.sleep(3)
            assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
            server.start()  # same port, same data
            produce(broker, records[third:2 * third])
            server.restart()  # and once more, right after a burst
            produce(broker, records[2 * third:])
            assert_adherence_becomes(broker, want, timeout=180)
            assert topic_records(broker, "rta.deadletter") == []
            assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
        finally:
            worker.kill(signal.SIGTERM)
