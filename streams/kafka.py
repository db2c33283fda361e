"""Kafka clients outside faust: what the plain aiokafka consumers (query views,
history sink, recompute runner, WFM forwarder) share, and the producer and reader
of `rta produce`, `rta tail`, the demo and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from mode import Service

from rta.identifiers import canonical_agent_id
from streams.settings import WorkerSettings


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def stop_reading(task: asyncio.Task[None] | None, consumer: Any) -> None:
    """Cancel a consumer's reading task, wait for it, then stop the consumer."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if consumer is not None:
        await consumer.stop()


def as_service(component: Startable, name: str) -> type[Service]:
    """A faust/mode service class that starts and stops ``component`` with the app."""
    async def on_start(self: Service) -> None:
        await component.start()

    async def on_stop(self: Service) -> None:
        await component.stop()

    return type(name, (Service,), {"on_start": on_start, "on_stop": on_stop})


def record_key(kind: str, body: dict[str, Any]) -> bytes:
    """The input topic key of INTERFACES.md. A state event naming its identity by kind
    (``acdIdentifierKind``) is keyed by its canonical ``acdAgentId`` (rta/identifiers.py),
    so that every event of one identity, however written, is in one partition; by the
    value as written when the kind or the value is invalid (the worker dead-letters it)."""
    tenant = body.get("tenantId")
    if kind == "state":
        acd = body.get("acdAgentId")
        id_kind = body.get("acdIdentifierKind")
        if id_kind is not None and isinstance(acd, str | int) and not isinstance(acd, bool):
            with contextlib.suppress(ValueError):
                acd = canonical_agent_id(id_kind, str(acd))
        return f"{tenant}:{body.get('acdServerId', '1')}:{acd}".encode()
    return f"{tenant}:{body.get('agentId')}".encode()


async def produce_records(settings: WorkerSettings, records: Iterable[dict[str, Any] | bytes],
                          ) -> int:
    """Send event-log records (parsed dicts) or raw poison bytes (to the state topic)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5,
                                max_request_size=16 * 1024 * 1024)
    await producer.start()
    n = 0
    try:
        futures = []
        for rec in records:
            if isinstance(rec, bytes):
                futures.append(await producer.send(settings.topic_state, rec, key=b"poison"))
            else:
                kind, body = rec["kind"], rec["body"]
                topic = settings.topic_state if kind == "state" else settings.topic_schedule
                key = record_key(kind, body) if isinstance(body, dict) else None
                futures.append(await producer.send(topic, orjson.dumps(body), key=key))
            n += 1
        for f in futures:
            await f
    finally:
        await producer.stop()
    return n


async def read_topic(settings: WorkerSettings, topic: str, idle_seconds: float = 2.0,
                     committed: bool = False) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` from the start until it is idle for ``idle_seconds``
    (``committed``: not those of aborted or open transactions)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None, isolation_level="read_committed" if committed
                                else "read_uncommitted")
    await consumer.start()
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_seconds * 1000))
            if not batch:
                return out
            for msgs in batch.values():
                out.extend((m.key, m.value) for m in msgs)
    finally:
        await consumer.stop()


async def latest_values(settings: WorkerSettings, topic: str, prefix: str,
                        ) -> dict[str, bytes]:
    """The latest value of each key of a compacted ``topic`` starting with ``prefix``
    (a tombstone removes its key), read from the start to the end offsets; records of
    aborted transactions are not read."""
    from streams.topics import partitions_of

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_poll_records=10_000, isolation_level="read_committed")
    await consumer.start()
    out: dict[str, bytes] = {}
    try:
        # (not consumer.partitions_for_topic: it knows only topics the consumer
        # has asked metadata for, which Tansu answers for every topic, Kafka not)
        parts = await partitions_of(settings, topic)
        if not parts:
            raise RuntimeError(f"topic {topic} has no partitions")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while True:
            batch = await consumer.getmany(*tps, timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    key = rec.key.decode(errors="replace") if rec.key else ""
                    if not key.startswith(prefix):
                        continue
                    if rec.value is None:
                        out.pop(key, None)
                    else:
                        out[key] = rec.value
            # an empty fetch at the end offsets: done (the idle fetch also covers
            # brokers that under-report end offsets, see ../shared/BROKER.md)
            if not batch and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
    finally:
        await consumer.stop()
    return out
