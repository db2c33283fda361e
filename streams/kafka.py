"""Kafka clients outside faust: what the plain aiokafka consumers (query views,
history sink, recompute runner, WFM forwarder) share, and the producer and reader
of `rta produce`, `rta tail`, the demo and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from mode import Service

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
    """The input topic key of INTERFACES.md."""
    tenant = body.get("tenantId")
    if kind == "state":
        return f"{tenant}:{body.get('acdServerId', '1')}:{body.get('acdAgentId')}".encode()
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
                     ) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` from the start until it is idle for ``idle_seconds``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None)
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
