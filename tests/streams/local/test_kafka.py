"""The Apache Kafka test tooling (streams/local/kafka.py): start, topics, restart
with the data kept, stop; clear errors without Java or Maven."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.local import kafka as local_kafka
from streams.local.broker import BrokerError
from streams.local.kafka import KafkaBroker


async def _create_and_describe(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("tool.a", 3, 1), NewTopic(
            "tool.b", 1, 1, topic_configs={"cleanup.policy": "compact"})])
        described = await admin.describe_topics(["tool.a", "tool.b"])
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def _produce(bootstrap: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(n):
            await producer.send("tool.a", f"v{i}".encode(), partition=i % 3)
        await producer.flush()
    finally:
        await producer.stop()


async def _read_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer("tool.a", bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list[bytes] = []
    try:
        while batch := await consumer.getmany(timeout_ms=1000):
            out.extend(m.value for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return sorted(out)


@pytest.mark.slow  # starts Apache Kafka
def test_start_topics_restart_keeps_data_stop(tmp_path: Path) -> None:
    data = tmp_path / "kafka"
    with KafkaBroker(data_dir=data) as broker:
        assert asyncio.run(_create_and_describe(broker.bootstrap)) == {"tool.a": 3,
                                                                        "tool.b": 1}
        asyncio.run(_produce(broker.bootstrap, 30))
        before = asyncio.run(_read_all(broker.bootstrap))
        assert len(before) == 30
        broker.restart()  # same port, same data folder: nothing formatted again
        assert asyncio.run(_read_all(broker.bootstrap)) == before
        port = broker.port
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # stopped
    assert (data / "logs" / "meta.properties").is_file()  # a given folder is kept


def test_without_java_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BrokerError, match=r"needs Java 17 or newer.*apt-get install"):
        local_kafka.find_java()


def test_an_old_java_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BrokerError, match=r"is Java 11"):
        local_kafka.find_java()


def test_without_maven_and_no_cache_the_error_says_so(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("RTA_KAFKA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match=r"needs Maven \(mvn\).*apt-get install maven"):
        local_kafka.classpath()


@pytest.mark.slow  # formats and starts Apache Kafka
def test_a_cluster_id_that_begins_with_a_dash_formats(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """One random cluster id in 64 begins with "-" (URL-safe base64), which the format
    tool's argument parser took for an option: the broker failed to start."""
    import base64

    dash = base64.urlsafe_b64encode(b"\xf8" + bytes(15)).decode().rstrip("=")
    assert dash.startswith("-")
    monkeypatch.setattr(local_kafka, "_cluster_id", lambda: dash)
    with KafkaBroker(log=tmp_path / "broker.log") as broker:
        assert (broker.data_dir / "logs" / "meta.properties").read_text().count(dash) == 1
