"""The history sink: output and input topics -> PostgreSQL, at least once, never lost.

A consumer group of its own (``<app_id>-history``; every worker runs a member,
so the partitions are shared out) reads ``rta.agent-state``, ``rta.schedule``,
``rta.adherence`` and ``rta.alerts`` in batches, writes each batch in one
transaction of upserts (``streams.history.store``), and commits the offsets only after
the database committed. While the database is down the batch is retried with
back-off and nothing more is read (back-pressure): nothing is dropped, and a
redelivered batch changes nothing. Its lag is in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from streams.history.rows import Rows, add_alert, add_schedule, add_state, add_summary
from streams.history.store import HistoryStore
from streams.kafka import as_service, stop_reading
from streams.metrics import Figure
from streams.retry import Backoff
from streams.settings import WorkerSettings

log = logging.getLogger("rta.history")


class HistorySink:
    def __init__(self, settings: WorkerSettings, store: HistoryStore) -> None:
        self.settings, self.store = settings, store
        self.topics = (settings.topic_state, settings.topic_schedule, settings.topic_adherence,
                       settings.topic_alerts)
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.written = 0  # rows written
        self.batches = 0
        self.failures = 0  # failed database writes (each retried)
        self.db_up = True
        self.lag = 0  # records behind the log end (measured every few seconds)
        self.positions: dict[TopicPartition, int] = {}
        self._stopping = False

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.topics, bootstrap_servers=self.settings.bootstrap,
            group_id=f"{self.settings.app_id}-history", enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=self.settings.history_batch_max,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            # a database outage holds a batch (back-pressure), not the group membership
            max_poll_interval_ms=24 * 3600 * 1000,
            session_timeout_ms=int(self.settings.broker_session_timeout * 1000),
            heartbeat_interval_ms=int(self.settings.broker_heartbeat_interval * 1000))
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name="rta-history-sink")

    async def stop(self, grace: float = 10.0) -> None:
        """The batch in hand is written and committed (up to ``grace`` seconds: a
        database that is down holds it, and it is read again after the restart),
        then reading stops and the consumer leaves its group."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError, Exception):  # not a cancel of stop()
                await asyncio.wait_for(asyncio.shield(self._task), grace)
        await stop_reading(self._task, self.consumer)
        await self.store.close()

    def rows(self, batch: dict[TopicPartition, list[Any]]) -> Rows:
        rows = Rows()
        s = self.settings
        for tp, records in batch.items():
            for rec in records:
                at = int(rec.timestamp)
                if tp.topic == s.topic_state:
                    add_state(rows, rec.value, at)
                elif tp.topic == s.topic_schedule:
                    add_schedule(rows, rec.value, tp.partition, rec.offset, at)
                elif tp.topic == s.topic_adherence:
                    add_summary(rows, rec.key, rec.value, at)
                else:
                    add_alert(rows, rec.value, at)
        return rows

    async def _write(self, rows: Rows) -> None:
        """Until the database took it: retry with exponential back-off and jitter."""
        backoff = Backoff(0.2, 10.0, jitter="spread")
        while True:
            try:
                await self.store.write(rows)
                if not self.db_up:
                    log.warning("history database is back; writing again")
                self.db_up = True
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                if self.db_up:
                    log.warning("history database write failed (%s); retrying, reading "
                                "nothing more until it succeeds", type(exc).__name__)
                self.db_up = False
                await backoff.wait()

    async def _run(self) -> None:
        assert self.consumer is not None
        last_lag = 0.0
        pause = Backoff.fixed()
        while not self._stopping:
            try:
                batch = await self.consumer.getmany(timeout_ms=500,
                                                    max_records=self.settings.history_batch_max)
                if batch:
                    rows = self.rows(batch)
                    await self._write(rows)
                    await self.consumer.commit({
                        tp: recs[-1].offset + 1 for tp, recs in batch.items()})
                    for tp, recs in batch.items():
                        self.positions[tp] = recs[-1].offset + 1
                    self.written += len(rows)
                    self.batches += 1
                if time.monotonic() - last_lag > 5.0:
                    last_lag = time.monotonic()
                    await self._measure_lag()
            except asyncio.CancelledError:
                raise
            except Exception:  # a rebalance mid-commit, the broker away: read again
                log.warning("history sink: batch not committed; it will be read again",
                            exc_info=True)
                await pause.wait()

    async def _measure_lag(self) -> None:
        assert self.consumer is not None
        parts = list(self.consumer.assignment())
        if not parts:
            self.lag = 0
            return
        ends = await self.consumer.end_offsets(parts)
        lag = 0
        for tp in parts:
            lag += max(0, ends.get(tp, 0) - await self.consumer.position(tp))
        self.lag = lag

    def service(self) -> type[Service]:
        return as_service(self, "HistoryService")

    def metrics(self) -> list[Figure]:
        return [
            ("rta_history_rows_written_total", "counter",
             "rows written to the history database", float(self.written)),
            ("rta_history_write_failures_total", "counter",
             "failed history database writes (each retried)", float(self.failures)),
            ("rta_history_lag_records", "gauge",
             "records of the history sink's partitions not yet in the database",
             float(self.lag)),
            ("rta_history_database_up", "gauge", "1 while the history database takes writes",
             float(self.db_up)),
        ]
