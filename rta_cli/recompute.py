"""`rta recompute`: rebuild day summaries of a past range from the history database and
publish them (rta.adherence and the database), whatever the lateness horizon."""

from __future__ import annotations

import sys
import time
from datetime import date

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from history.migrate import check
from history.recompute import Range, agents_in_range, batches, compute, load, stored_keys
from history.rows import Rows, add_summary
from history.store import HistoryStore
from rta.calendar import DayCalendar
from rta.config import TenantsConfig
from streams.settings import WorkerSettings


async def recompute(settings: WorkerSettings, tenants: TenantsConfig, tenant: str,
                    first: date, last: date, agent: str | None, now_ms: int,
                    publish: bool = True) -> dict[str, float]:
    assert settings.database_url
    await check(settings.database_url)
    rng = Range.of(tenants, tenant, first, last)
    today = date.fromordinal(DayCalendar(tenants.get(tenant).time_zone).ordinal(now_ms))
    as_of = now_ms if last >= today else None  # a day in progress: as of now
    engine = create_async_engine(settings.database_url, pool_size=2)
    store = HistoryStore(settings.database_url, engine)
    producer = None
    if publish:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=10,
                                    max_request_size=16 * 1024 * 1024)
        await producer.start()
    started = time.perf_counter()
    stats: dict[str, float] = {"agents": 0, "summaries": 0, "deleted": 0, "events": 0,
                               "schedules": 0}
    try:
        async with engine.connect() as conn:
            agents = [agent] if agent else await agents_in_range(conn, rng)
        for batch in batches(agents):
            async with engine.connect() as conn:
                inputs = await load(conn, rng, batch)
                before = await stored_keys(conn, rng, batch)
            summaries = compute(inputs, tenants, rng, as_of)
            rows = Rows()
            futures = []
            for s in summaries:
                key = f"{tenant}:{s['agentId']}:{s['date']}".encode()
                value = orjson.dumps({**s, "asOf": now_ms})
                add_summary(rows, key, value, now_ms)
                if producer is not None:
                    futures.append(await producer.send(settings.topic_adherence, value, key=key))
            gone = before - set(rows.summaries)
            for gone_key in sorted(gone):  # a day that no longer exists
                add_summary(rows, gone_key.encode(), None, now_ms)
                if producer is not None:
                    futures.append(await producer.send(settings.topic_adherence, None,
                                                       key=gone_key.encode()))
            for fut in futures:
                await fut
            await store.write(rows)
            stats["agents"] += len(batch)
            stats["summaries"] += len(summaries)
            stats["deleted"] += len(gone)
            stats["events"] += sum(kind == "state" for kind, _ in inputs)
            stats["schedules"] += sum(kind == "schedule" for kind, _ in inputs)
    finally:
        if producer is not None:
            await producer.stop()
        await engine.dispose()
    stats["seconds"] = round(time.perf_counter() - started, 2)
    return stats


def report(stats: dict[str, float]) -> None:
    print(f"recomputed {stats['summaries']} day summaries of {stats['agents']} agents "
          f"({stats['deleted']} days deleted) from {stats['events']} state events and "
          f"{stats['schedules']} schedule messages in {stats['seconds']} s", file=sys.stderr)
