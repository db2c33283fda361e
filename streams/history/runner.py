"""Recompute: rebuild day summaries of a past range from the history database and
publish them (rta.adherence and the database), whatever the lateness horizon.

``rta recompute`` runs :func:`recompute` by hand; :class:`RecomputeRunner` runs it in
the workers for the requests the reducers make when a schedule change reaches days
that are final on them (``RecomputeNeeded``, sent to ``<app_id>-recompute``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from mode import Service
from sqlalchemy.ext.asyncio import create_async_engine

from rta.calendar import DayCalendar
from rta.config import TenantsConfig
from streams.history.migrate import check
from streams.history.recompute import Range, agents_in_range, batches, compute, load, stored_keys
from streams.history.rows import Rows, add_summary
from streams.history.store import HistoryStore
from streams.kafka import as_service, stop_reading
from streams.retry import Backoff
from streams.settings import WorkerSettings

log = logging.getLogger("rta.recompute")


async def recompute(settings: WorkerSettings, tenants: TenantsConfig, tenant: str,
                    first: date, last: date, agent: str | None, now_ms: int,
                    publish: bool = True, jobs: int = 1) -> dict[str, float]:
    """Rebuild the range's day summaries (one agent, or every agent with anything in
    it). ``jobs`` > 1 shares the agents' batches out to that many processes, each
    with its own database connections (and producer)."""
    assert settings.database_url
    await check(settings.database_url)
    rng = Range.of(tenants, tenant, first, last)
    started = time.perf_counter()
    if agent:
        agents = [agent]
    else:
        engine = create_async_engine(settings.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                agents = await agents_in_range(conn, rng)
        finally:
            await engine.dispose()
    work = list(batches(agents))
    jobs = max(1, min(jobs, len(work)))
    if jobs == 1:
        stats = await _recompute_batches(settings, tenants, rng, work, now_ms, publish)
    else:
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = await asyncio.gather(*(
                loop.run_in_executor(pool, _recompute_share, settings, tenants, rng,
                                     work[k::jobs], now_ms, publish)
                for k in range(jobs)))
        stats = {key: sum(p[key] for p in parts) for key in parts[0]}
    stats["seconds"] = round(time.perf_counter() - started, 2)
    return stats


def _recompute_share(settings: WorkerSettings, tenants: TenantsConfig, rng: Range,
                     work: list[list[str]], now_ms: int, publish: bool) -> dict[str, float]:
    """One process's share of a ``jobs`` > 1 recompute."""
    return asyncio.run(_recompute_batches(settings, tenants, rng, work, now_ms, publish))


async def _recompute_batches(settings: WorkerSettings, tenants: TenantsConfig, rng: Range,
                             work: list[list[str]], now_ms: int, publish: bool
                             ) -> dict[str, float]:
    assert settings.database_url
    tenant = rng.tenant
    today = date.fromordinal(DayCalendar(tenants.get(tenant).time_zone).ordinal(now_ms))
    as_of = now_ms if rng.last >= today else None  # a day in progress: as of now
    engine = create_async_engine(settings.database_url, pool_size=2)
    store = HistoryStore(settings.database_url, engine)
    producer = None
    if publish:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=10,
                                    max_request_size=16 * 1024 * 1024)
        await producer.start()
    stats: dict[str, float] = {"agents": 0, "summaries": 0, "deleted": 0, "events": 0,
                               "schedules": 0}
    try:
        for batch in work:
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
    return stats


def report(stats: dict[str, float]) -> str:
    return (f"recomputed {stats['summaries']:.0f} day summaries of {stats['agents']:.0f} "
            f"agents ({stats['deleted']:.0f} days deleted) from {stats['events']:.0f} state "
            f"events and {stats['schedules']:.0f} schedule messages in {stats['seconds']} s")


def schedule_digest(body: Any) -> str:
    """How the history database names a schedule message (``body_sha256``)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class RecomputeRunner:
    """Runs the recompute requests of ``<app_id>-recompute`` (a consumer group of its
    own: each request runs once, on some worker). A request waits until the history
    database has the schedule message that caused it (the history sink writes it), then
    recomputes those days of that agent; its offset is committed after that."""

    def __init__(self, settings: WorkerSettings, tenants: TenantsConfig,
                 store: HistoryStore) -> None:
        self.settings, self.tenants, self.store = settings, tenants, store
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.done = 0
        self.failures = 0

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            self.settings.topic_recompute, bootstrap_servers=self.settings.bootstrap,
            group_id=f"{self.settings.app_id}-recompute", enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=20,
            max_poll_interval_ms=24 * 3600 * 1000,
            session_timeout_ms=int(self.settings.broker_session_timeout * 1000),
            heartbeat_interval_ms=int(self.settings.broker_heartbeat_interval * 1000))
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name="rta-recompute-runner")

    async def stop(self) -> None:
        await stop_reading(self._task, self.consumer)
        await self.store.close()

    async def run_one(self, req: dict[str, Any]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not await self._stored(req):
            await asyncio.sleep(0.5)  # the sink has not written it yet
        stats = await recompute(self.settings, self.tenants, req["tenantId"],
                                date.fromisoformat(req["first"]),
                                date.fromisoformat(req["last"]), req["agentKey"],
                                int(time.time() * 1000))
        log.info("automatic %s (agent %s, a %s before the retained history)",
                 report(stats), req["agentKey"],
                 "state event" if "event" in req else
                 "moved identity's history" if "moved" in req else "schedule change")

    async def _stored(self, req: dict[str, Any]) -> bool:
        """The input that caused the request is in the history database."""
        if "event" in req:
            return await self.store.has_state_event(req["event"])
        if "moved" in req:
            m = req["moved"]
            return await self.store.has_mapping(req["tenantId"], m["acdServerId"],
                                                m["acdAgentId"], m["to"])
        return await self.store.has_schedule(req["tenantId"], req["agentKey"],
                                             req["scheduleSha256"])

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(timeout_ms=1000)
            for _tp, records in batch.items():
                for rec in records:
                    backoff = Backoff(1.0, 30.0)
                    while True:
                        try:
                            await self.run_one(orjson.loads(rec.value))
                            self.done += 1
                            break
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            self.failures += 1
                            log.warning("recompute request failed; retrying", exc_info=True)
                            await backoff.wait()
            if batch:
                with contextlib.suppress(Exception):  # a rebalance: the request runs again
                    await self.consumer.commit({tp: recs[-1].offset + 1
                                                for tp, recs in batch.items()})

    def service(self) -> type[Service]:
        return as_service(self, "RecomputeService")
