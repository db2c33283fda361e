"""The WFM forwarder: ``rta.agent-state`` -> Webex ``realTimeAgentState`` posts.

A consumer group of its own (``<app_id>-forward-<tenant>``) reads the input
topic; the records of the configured tenant are posted to the WFM in batches (by
size and by time; one request per ACD server of the batch), in the topic's order
per ACD identity. Offsets are committed only after the WFM accepted the whole
batch, so nothing is lost; after a crash only the batch in flight is sent again.

- 5xx, timeouts, throttling, connection failures, refused logins, and the 4xx
  that say the session, permissions or address are wrong (``streams.wfm.client``): the
  request is retried with exponential back-off and full jitter, for as long as
  it takes (reading pauses when the read-ahead buffer is full: back-pressure).
  A batch whose partitions were revoked meanwhile is given up (their new owner
  sends it), so two members never race on one identity.
- 401: a new session, then the request once more (``streams.wfm.client``).
- 400, 409, 413, 422 (the WFM refused the content): the request is split in
  halves and each half sent again, so a record the WFM refuses is found alone
  and goes to ``rta.deadletter`` with the WFM's answer, and the valid records
  around it are delivered, in order.
- Event ids (or, without one, the event's content), per ACD identity, seen in the
  last ``dedup_lookback`` records of a partition are forwarded once; after a
  restart or rebalance that window is read again before forwarding resumes.
- States Webex does not document (7, 8, 9) are sent as the configured ones.

Runs as ``rta forward --config FILE`` or inside a worker (``RTA_FORWARD_CONFIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from mode import Service

from rta.models import InputError, parse_state_event
from streams.codec import dead_letter
from streams.kafka import as_service
from streams.metrics import Figure
from streams.retry import Backoff
from streams.settings import WorkerSettings
from streams.wfm.client import Permanent, Transient, WfmClient
from streams.wfm.config import WfmConfig
from streams.wfm.forward_buffer import Batch, ForwardBuffer, Partition, Pending

log = logging.getLogger("rta.forward")
REVOKE_GRACE_SECONDS = 5.0  # a rebalance waits this long for the batch in flight


class Forwarder:
    def __init__(self, settings: WorkerSettings, config: WfmConfig,
                 client: WfmClient | None = None) -> None:
        self.settings, self.config = settings, config
        self.fwd = config.forward
        self.tenant = config.wfm.tenant
        self.client = client or WfmClient(config)
        self.buffer = ForwardBuffer(self.fwd.dedup_lookback)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # no batch in flight
        self._idle.set()
        self._rebalancing = False  # from revocation to assignment: no new batch
        self._stopping = False
        self._prefill: dict[Partition, int] = {}  # re-read below this offset: seen keys only
        self._blocked: set[Partition] = set()  # being assigned: records read are ignored
        self._epoch: dict[Partition, int] = {}  # bumped on every assignment and revocation
        self._uncommitted: dict[Partition, int] = {}
        self.positions: dict[Partition, int] = {}  # committed offsets
        self.in_flight = 0
        # metrics
        self.forwarded = 0  # states the WFM accepted
        self.batches = 0  # requests the WFM accepted
        self.failures = 0  # failed requests (each retried)
        self.deadlettered = 0  # states the WFM refused
        self.duplicates = 0  # input duplicates not forwarded again
        self.skipped = 0  # other tenants / servers, invalid records
        self.lag = 0
        self.wfm_up = True
        self.last_success = 0.0

    @property
    def group_id(self) -> str:
        return f"{self.settings.app_id}-forward-{self.tenant}"

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        s = self.settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset=self.fwd.start_from,
            max_poll_records=max(100, min(self.fwd.batch_max_items * 2, 5000)),
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            # the reading task keeps polling through WFM outages; this is a safety net
            max_poll_interval_ms=24 * 3600 * 1000,
            session_timeout_ms=int(s.broker_session_timeout * 1000),
            heartbeat_interval_ms=int(s.broker_heartbeat_interval * 1000))
        self.consumer.subscribe([s.topic_state], listener=_Rebalance(self))
        self.producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap, acks="all",
                                         linger_ms=5)
        await self.producer.start()
        await self.consumer.start()
        self._tasks = [asyncio.create_task(self._read(), name="rta-forward-read"),
                       asyncio.create_task(self._send(), name="rta-forward-send"),
                       asyncio.create_task(self._measure(), name="rta-forward-lag")]
        log.info("forwarding %s of tenant %r to %s (group %s)", s.topic_state, self.tenant,
                 self.config.wfm.base_url, self.group_id)

    async def stop(self, grace: float = 10.0) -> None:
        """Let the batch in flight finish (up to ``grace`` s), commit, end the session."""
        self._stopping = True
        self._wake.set()
        send = self._tasks[1] if len(self._tasks) > 1 else None
        if send is not None:
            with contextlib.suppress(TimeoutError, Exception):  # not a cancel of stop()
                await asyncio.wait_for(asyncio.shield(send), grace)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._commit()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        await self.client.close()

    # ------------------------------------------------------------------ reading
    def assigning(self, tps: set[Partition]) -> None:
        """Assignment began: until :meth:`partitions_assigned`, whatever is read of
        these partitions is ignored (their positions are about to be set)."""
        self._blocked |= tps
        self.partitions_revoked(tps)

    def partitions_assigned(self, tps: set[Partition], committed: dict[Partition, int],
                            seek_to: dict[Partition, int]) -> None:
        """Positions are set (``seek_to``): forward from the committed offsets, and
        read what lies below them only to remember the event ids."""
        self.buffer.drop(tps)
        for tp in tps:
            self._uncommitted.pop(tp, None)
            self._epoch[tp] = self._epoch.get(tp, 0) + 1
            if tp in committed:
                self.positions[tp] = committed[tp]
            if tp in seek_to and seek_to[tp] < committed.get(tp, 0):
                self._prefill[tp] = committed[tp]
        self._blocked -= tps

    def partitions_revoked(self, tps: set[Partition]) -> None:
        self.buffer.drop(tps)
        for tp in tps:
            self._prefill.pop(tp, None)
            self._uncommitted.pop(tp, None)
            self._epoch[tp] = self._epoch.get(tp, 0) + 1

    def decode(self, tp: Partition, offset: int, key: bytes | None, value: bytes | None,
               now: float) -> tuple[Pending, str | None]:
        """The WFM item of one record, or a skip; and its dedup key."""
        skip = Pending(offset, None, None, arrived=now)
        try:
            ev = parse_state_event(orjson.loads(value or b""))
        except (orjson.JSONDecodeError, InputError):
            self.skipped += 1  # the routers dead-letter it with the reason
            return skip, None
        if ev.tenant_id != self.tenant or (
                self.fwd.acd_servers and ev.acd_server_id not in self.fwd.acd_servers):
            self.skipped += 1
            return skip, None
        # per identity, as the engine keeps event ids (docs/SEMANTICS.md)
        ident = f"{ev.acd_server_id}|{ev.acd_agent_id}"
        dedup = (f"{ident}|id:{ev.event_id}" if ev.event_id is not None else
                 f"{ident}|{ev.timestamp}|{ev.state}|"
                 f"{'' if ev.reason is None else ev.reason}")
        item = {"acdAgentId": ev.acd_agent_id,
                "gisStateIdentifier": str(self.fwd.state_map.get(ev.state, ev.state)),
                "timestamp": ev.timestamp, "reasonCode": ev.reason}
        return Pending(offset, ev.acd_server_id, item, key, value, now), dedup

    async def _read(self) -> None:
        assert self.consumer is not None
        paused = False
        pause = Backoff.fixed()
        while True:
            try:
                full = self.buffer.queued >= self.fwd.buffer_max_records
                if full != paused:
                    parts = self.consumer.assignment()
                    if full:
                        self.consumer.pause(*parts)
                    else:
                        self.consumer.resume(*parts)
                    paused = full
                data = await self.consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for tp, records in data.items():
                    part = (tp.topic, tp.partition)
                    for rec in records:
                        self._take(part, rec.offset, rec.key, rec.value, now)
                if data:
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("forwarder: reading failed; reading again", exc_info=True)
                await pause.wait()

    def _take(self, part: Partition, offset: int, key: bytes | None, value: bytes | None,
              now: float) -> None:
        if part in self._blocked:
            return  # read while its position is being set: read again after the seek
        entry, dedup = self.decode(part, offset, key, value, now)
        until = self._prefill.get(part)
        if until is not None:
            if offset < until:
                if dedup is not None:
                    self.buffer.remember(part, dedup)
                return
            del self._prefill[part]
        if not self.buffer.add(part, entry, dedup):
            self.duplicates += 1

    # ------------------------------------------------------------------ sending
    async def _send(self) -> None:
        max_items, max_wait = self.fwd.batch_max_items, self.fwd.batch_max_wait_ms / 1000
        pause = Backoff.fixed()
        while not self._stopping:
            try:
                batch = None if self._rebalancing else self.buffer.next_batch(max_items)
                if batch is None or (len(batch) < max_items and not self._stopping
                                     and self._waited(batch) < max_wait):
                    if self._uncommitted or self.buffer.has_commits():
                        await self._commit()  # skips only: still move the offsets on
                    self._wake.clear()
                    wait = max_wait - self._waited(batch) if batch is not None else 1.0
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), max(wait, 0.001))
                    continue
                epochs = {tp: self._epoch.get(tp, 0) for tp in batch.partitions()}
                self.in_flight = len(batch)
                self._idle.clear()
                try:
                    for server, entries in batch.by_server().items():
                        await self._deliver(server, entries, epochs)
                    self.buffer.complete(batch)
                    await self._commit()
                except _Revoked:
                    continue  # the new owner sends it from the last commit
                finally:
                    self.in_flight = 0
                    self._idle.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # never stop forwarding: the batch is still at the heads
                self.failures += 1
                log.exception("forwarder: sending failed unexpectedly; trying again")
                await pause.wait()

    def _waited(self, batch: Batch | None) -> float:
        if batch is None or not batch.entries:
            return 0.0
        return time.monotonic() - min(p.arrived for _, p in batch.entries)

    async def _deliver(self, server: str, entries: list[tuple[Partition, Pending]],
                       epochs: dict[Partition, int]) -> None:
        """Until the WFM took these records (or refused each alone): retries, halves."""
        backoff = Backoff(self.fwd.retry_base_ms / 1000, self.fwd.retry_max_ms / 1000,
                          jitter="full")
        items = [p.item for _, p in entries if p.item is not None]
        while True:
            if any(self._epoch.get(tp, 0) != e for tp, e in epochs.items()):
                raise _Revoked()
            try:
                await self.client.post_states(server, items)
                self.forwarded += len(items)
                self.batches += 1
                self.last_success = time.monotonic()
                if not self.wfm_up:
                    log.warning("the WFM takes states again")
                self.wfm_up = True
                return
            except Permanent as exc:
                self.failures += 1
                if len(entries) > 1:
                    half = len(entries) // 2
                    await self._deliver(server, entries[:half], epochs)
                    await self._deliver(server, entries[half:], epochs)
                    return
                await self._dead_letter(entries[0], exc)
                return
            except Transient as exc:
                self.failures += 1
                if self.wfm_up:
                    log.warning("the WFM did not take a batch of %d states (%s); retrying "
                                "with back-off", len(items), exc)
                self.wfm_up = False
                await backoff.wait()

    async def _dead_letter(self, entry: tuple[Partition, Pending], exc: Permanent) -> None:
        (topic, partition), p = entry
        reason = (f"the WFM refused this state: HTTP {exc.status}: "
                  f"{exc.answer.strip() or '(no answer body)'}")
        log.warning("forwarder: %s (partition %d offset %d) -> %s", reason, partition,
                    p.offset, self.settings.topic_deadletter)
        assert self.producer is not None
        value = dead_letter(topic, partition, p.offset, p.key, p.value, reason,
                            int(time.time() * 1000))
        pause = Backoff.fixed()
        while True:
            try:
                await self.producer.send_and_wait(self.settings.topic_deadletter, value,
                                                  key=p.key)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("forwarder: dead letter not written; retrying", exc_info=True)
                await pause.wait()
        self.deadlettered += 1

    async def _commit(self) -> None:
        assert self.consumer is not None
        self._uncommitted.update(self.buffer.commits())
        if not self._uncommitted:
            return
        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        offsets = {tp: off for tp, off in self._uncommitted.items() if tp in owned}
        self._uncommitted = offsets
        if not offsets:
            return
        try:
            await self.consumer.commit({TopicPartition(t, p): off
                                        for (t, p), off in offsets.items()})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a rebalance: the new owner sends from the last commit
            log.warning("forwarder: offsets not committed (%s); kept for the next commit",
                        type(exc).__name__)
            return
        self.positions.update(offsets)
        self._uncommitted = {}

    # ------------------------------------------------------------------ metrics
    async def _measure(self) -> None:
        assert self.consumer is not None
        while True:
            await asyncio.sleep(2.0)
            try:
                parts = list(self.consumer.assignment())
                ends = await self.consumer.end_offsets(parts) if parts else {}
                lag = 0
                for tp in parts:
                    pos = self.positions.get((tp.topic, tp.partition))
                    if pos is None:
                        pos = await self.consumer.committed(tp) or 0
                    lag += max(0, ends.get(tp, 0) - pos)
                self.lag = lag
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("forwarder: lag not measured", exc_info=True)

    def metrics(self) -> list[Figure]:
        return [
            ("rta_forward_states_total", "counter", "states the WFM accepted",
             float(self.forwarded)),
            ("rta_forward_batches_total", "counter", "requests the WFM accepted",
             float(self.batches)),
            ("rta_forward_failures_total", "counter",
             "failed requests to the WFM (each retried or split)", float(self.failures)),
            ("rta_forward_deadletter_total", "counter",
             "states the WFM refused (sent to the dead-letter topic)",
             float(self.deadlettered)),
            ("rta_forward_duplicates_total", "counter",
             "input duplicates (same event id or content, per identity) not forwarded again",
             float(self.duplicates)),
            ("rta_forward_sessions_total", "counter", "WFM sessions opened",
             float(self.client.authorizations)),
            ("rta_forward_lag_records", "gauge",
             "input records not yet delivered (and committed)", float(self.lag)),
            ("rta_forward_buffered", "gauge", "records read and waiting to be sent",
             float(self.buffer.size)),
            ("rta_forward_wfm_up", "gauge", "1 while the WFM takes states",
             float(self.wfm_up)),
        ]

    def service(self) -> type[Service]:
        return as_service(self, "ForwarderService")


class _Revoked(Exception):
    """The batch's partitions changed owner while it waited to be delivered."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, fwd: Forwarder) -> None:
        self.fwd = fwd

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # the batch in flight may finish first (a few seconds at most), so its
        # offsets are committed before the new owner starts: no repeat
        self.fwd._rebalancing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.fwd._idle.wait(), REVOKE_GRACE_SECONDS)
        with contextlib.suppress(Exception):
            await self.fwd._commit()  # what is done, before the new owner starts
        self.fwd.partitions_revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Every assigned partition is positioned explicitly: at its committed offset
        minus the dedup lookback (re-read for the event ids only), or, without a
        commit, at its beginning or end (``start_from``). Records the consumer reads
        meanwhile are ignored (aiokafka may fetch before this callback ends)."""
        fwd, consumer = self.fwd, self.fwd.consumer
        assert consumer is not None
        tps = list(assigned)
        parts = {(tp.topic, tp.partition) for tp in tps}
        fwd.assigning(parts)  # before the first await
        pause = Backoff.fixed()
        while True:  # the partitions stay blocked until they are positioned
            try:
                committed, seek_to = await self._positions(consumer, tps)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("forwarder: assigned partitions not positioned yet; retrying",
                            exc_info=True)
                await pause.wait()
        for tp in tps:
            consumer.seek(tp, seek_to[(tp.topic, tp.partition)])
        fwd.partitions_assigned(parts, committed, seek_to)
        fwd._rebalancing = False
        fwd._wake.set()

    async def _positions(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]
                         ) -> tuple[dict[Partition, int], dict[Partition, int]]:
        committed: dict[Partition, int] = {}
        seek_to: dict[Partition, int] = {}
        if not tps:
            return committed, seek_to
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            part = (tp.topic, tp.partition)
            c = await consumer.committed(tp)
            if c is None:
                seek_to[part] = (begins.get(tp, 0) if self.fwd.fwd.start_from == "earliest"
                                 else ends.get(tp, 0))
            else:
                committed[part] = c = max(c, begins.get(tp, 0))
                seek_to[part] = max(begins.get(tp, 0), c - self.fwd.fwd.dedup_lookback)
        return committed, seek_to
