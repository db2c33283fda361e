"""`rta produce` (an event log into the input topics) and `rta tail` (print a topic)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.settings import WorkerSettings


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


def produce_file(settings: WorkerSettings, path: str) -> int:
    from rta.replay import read_lines

    with (sys.stdin.buffer if path == "-" else open(path, "rb")) as fh:
        records = [rec for _, rec in read_lines(fh) if isinstance(rec, dict)]
    return asyncio.run(produce_records(settings, records))


def tail(settings: WorkerSettings, topic: str, idle: float, latest: bool) -> int:
    rows = asyncio.run(read_topic(settings, topic, idle))
    if latest:
        last: dict[bytes | None, bytes | None] = {}
        for k, v in rows:
            last[k] = v
        rows = [(k, v) for k, v in last.items() if v is not None]
    for k, v in rows:
        key = k.decode(errors="replace") if k else ""
        sys.stdout.write(f"{key}\t{v.decode(errors='replace') if v else 'null'}\n")
    return 0
