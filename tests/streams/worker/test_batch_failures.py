"""A batch whose body fails (here: the broker refuses the records it sends) is
never acked: the worker stops at once with a clear error, and restarted it reads
the batch again. Apache Kafka only (a topic's max.message.bytes)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support.brokers import TestBroker
from tests.support.results import assert_adherence_becomes, expected, failure_centre, tenants_file
from tests.support.workers import Worker, produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


async def set_max_message_bytes(broker: TestBroker, topic: str, value: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                  configs={"max.message.bytes": str(value)})])
    finally:
        await admin.close()


def test_a_failed_batch_stops_the_worker_and_is_read_again(broker: TestBroker,
                                                           tmp_path: Path) -> None:
    records = failure_centre(seed=25)
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    agent_input = broker.topic("rta-agent-input")
    worker = Worker(broker, tmp_path, tenants, "w1").start()
    try:
        # the routers' records to the reducers are refused from now on
        asyncio.run(set_max_message_bytes(broker, agent_input, 200))
        time.sleep(1)
        produce(broker, records)
        assert worker.proc is not None
        assert wait_for(lambda: worker.proc is not None and worker.proc.poll() is not None,
                        timeout=60, every=0.5)
        assert worker.proc.returncode == 70
        log = worker.log.read_text(errors="replace")
        assert "failed" in log and "stops without acking this batch" in log, log[-3000:]
        # the broker takes them again; restarted, the worker reads what it had not done
        asyncio.run(set_max_message_bytes(broker, agent_input, 1_048_588))
        worker = Worker(broker, tmp_path, tenants, "w1").start()
        assert_adherence_becomes(broker, want)
        assert topic_records(broker, "rta.deadletter") == []
    finally:
        worker.kill(signal.SIGTERM)
