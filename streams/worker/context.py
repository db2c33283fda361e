"""The worker's shared parts (the faust app, its topics and tables, the runtime) and
the I/O every step goes through: sending, table writes, dead letters, and the guard
around a batch."""

from __future__ import annotations

import contextlib
import logging
import weakref
from typing import Any

import faust
import orjson
from faust.streams import _current_event
from faust.types import TP

from rta.config import TenantsConfig
from rta.outputs import Cause, RecomputeNeeded, Rejected
from streams.codec import agent_key, dead_letter, encode, pack_value, unpack_value
from streams.settings import WorkerSettings
from streams.worker.runtime import Runtime, _At, now_ms, stop_unacked

log = logging.getLogger("rta.worker")


class Worker:
    """One worker: the faust app, its topics and tables, and what it keeps in memory
    (``rt``). Every step module (routing, directory, reducers, outbox, timers,
    rebalance) is a set of functions of a ``Worker``."""

    def __init__(self, app: faust.App, settings: WorkerSettings,
                 tenants: TenantsConfig) -> None:
        self.app = app
        self.settings = settings
        self.tenants = tenants
        self.rt = Runtime(settings, tenants)
        p = settings.partitions

        def topic(name: str, **kw: Any) -> Any:
            return app.topic(name, partitions=p, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw", **kw)

        self.state_in = topic(settings.topic_state)
        self.schedule_in = topic(settings.topic_schedule)
        self.adherence_out = topic(settings.topic_adherence, compacting=True)
        self.status_out = topic(settings.topic_status, compacting=True)
        self.alerts_out = topic(settings.topic_alerts)
        self.deadletter_out = topic(settings.topic_deadletter)
        self.sessions_topic = topic(settings.topic_sessions, compacting=True)
        self.recompute_topic = topic(settings.topic_recompute)
        self.directory_topic = topic(f"{settings.app_id}-directory", internal=True)
        self.agent_input = topic(f"{settings.app_id}-agent-input", internal=True)

        def table(name: str) -> Any:
            schema: Any = faust.Schema(key_type=str, key_serializer="json",
                                       value_serializer="json")
            return app.Table(name, default=None, partitions=p, schema=schema)

        self.directory = table("directory")  # identity -> [agent, {schedule partition: offset}]
        # identity -> [[timestamp, arrival, compact event, held at], ...]
        self.held = table("held")
        self.agents = table("agents")  # tenant:agent -> reducer snapshot
        self._count_recovered_snapshots()
        self.rt.highwater = self.highwater
        self.rt.upstream_state = self.upstream_state
        self._upstream_topics = {self.state_in.get_topic_name(),
                                 self.schedule_in.get_topic_name(),
                                 self.directory_topic.get_topic_name()}

    def _count_recovered_snapshots(self) -> None:
        """``rta_snapshot_bytes`` covers the snapshots a recovery brings in as well as
        those this worker writes (``put``): the changelog records' sizes, as they pass."""
        table, sizes = self.agents, self.rt.snapshot_bytes
        apply = table.apply_changelog_batch

        def apply_changelog_batch(batch: Any) -> None:
            batch = list(batch)
            for event in batch:
                msg = event.message
                with contextlib.suppress(Exception):  # a figure: never stop the recovery
                    key = orjson.loads(msg.key) if isinstance(msg.key, bytes) else msg.key
                    if msg.value is None:
                        sizes.pop(key, None)
                    else:
                        sizes[key] = len(msg.value)
            apply(batch)

        table.apply_changelog_batch = apply_changelog_batch

    def consumed_topics(self) -> list[str]:
        """The topics the worker's steps read (the consumer lag's labels)."""
        return [self.state_in.get_topic_name(), self.schedule_in.get_topic_name(),
                self.directory_topic.get_topic_name(), self.agent_input.get_topic_name()]

    # ------------------------------------------------------------------ the group
    def generation(self) -> int:
        return int(self.app.consumer_generation_id)

    def stale(self, event: Any, gen: int) -> bool:
        """The event was fetched before a rebalance that began since (``gen`` is the
        generation its batch started in). Its partition may belong to another worker
        now, which reads it again from the committed offset (faust_fixes refuses its
        ack): handling it here as well could overwrite the new owner's table entries
        with state built from a partial history."""
        msg_gen = getattr(event.message, "generation_id", gen)
        return (msg_gen != gen or self.generation() != gen
                or not self.app.flow_control.is_active())

    def highwater(self, partition: int) -> int | None:
        """The log end of an agent-input partition, as the consumer last saw it."""
        return self.app.consumer.highwater(
            TP(self.agent_input.get_topic_name(), partition))

    def upstream_state(self) -> list[tuple[Any, int | None, int]]:
        """(partition, log end, where reading starts) of the routers' inputs. A partition
        nothing was read from in this process starts at its committed offset, which is
        the consumer's fetch position until something is fetched."""
        consumer: Any = self.app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        try:
            positions = consumer._thread._consumer._subscription.subscription.assignment
        except AttributeError:
            positions = None
        out: list[tuple[Any, int | None, int]] = []
        for tp in consumer.assignment():
            if tp.topic not in self._upstream_topics:
                continue
            start = committed.get(tp) or 0
            if positions is not None:
                with contextlib.suppress(Exception):
                    start = max(start, positions.state_value(tp).position or 0)
            out.append((tp, consumer.highwater(tp), start))
        return out

    # ------------------------------------------------------------------ output
    async def send(self, topic: Any, **kw: Any) -> Any:
        """Every record the worker writes (outputs, internal topics, changelogs) goes
        through here: none after the process stood still (``FreezeWatch``). Counted
        per topic (``rta_records_out_total``)."""
        self.rt.freeze.check()
        name = topic.get_topic_name()
        out = self.rt.records_out
        out[name] = out.get(name, 0) + 1
        return await topic.send(**kw)

    async def to_deadletter(self, event: Any, reason: str, value: bytes | None = None,
                            cause: Cause = "other") -> Any:
        """Send the event's message to the dead-letter topic; returns the delivery future.
        ``cause``: which of the fixed kinds (``rta.outputs.CAUSES``) the reason is."""
        msg = event.message
        self.rt.dead_lettered(cause)
        # DEBUG: a flood of bad input must not flood the logs (rta_deadletter_total
        # counts every one by cause; the dead-letter topic has them all)
        log.debug("dead letter (%s): %s", cause, reason[:300], extra={
            "topic": msg.topic, "partition": msg.partition, "offset": msg.offset})
        return await self.send(self.deadletter_out, key=msg.key, value=dead_letter(
            msg.topic, msg.partition, msg.offset, msg.key,
            msg.value if value is None else value, reason, now_ms()))

    async def reject(self, source_key: bytes | None, rej: Rejected, topic_name: str) -> Any:
        """A core rejection (``Rejected``, its ``cause`` decided by the core) to the
        dead-letter topic."""
        self.rt.dead_lettered(rej.cause)
        payload = rej.payload
        log.debug("dead letter (%s): %s", rej.cause, rej.reason[:300], extra={
            "topic": topic_name, "tenant": payload.get("tenantId"),
            "agent": payload.get("agentId") or payload.get("agentKey")})
        return await self.send(self.deadletter_out, key=source_key, value=dead_letter(
            topic_name, None, None, source_key, encode(rej.payload), rej.reason, now_ms()))

    @staticmethod
    async def delivered(futures: list[Any]) -> None:
        """Wait until the broker has these records. An input is acked only after what
        it caused is acknowledged, and a table write comes after the sends it marks as
        done: a crash in between replays the input instead of losing its effects."""
        for fut in futures:
            await fut

    async def guarded(self, step: str, body: Any, events: list[Any]) -> None:
        """Run one batch's body. Bad input never raises here (each event is decoded or
        dead-lettered on its own); what does raise is the infrastructure: a send or a
        table write that failed, a record the broker refused. faust would then ack the
        whole batch (its ``take_events`` acks in a ``finally``), losing what was not
        done. So the worker stops at once, before anything of the batch is acked or
        committed; restarted, it reads the batch again from the committed offsets."""
        self.rt.freeze.check()
        try:
            await body(self, events)
        except Exception as exc:
            stop_unacked(step, exc)

    def state_item(self, tenant: str, agent: str, compact: list[Any], at: int | None = None
                   ) -> tuple[int, dict[str, Any]]:
        """An agent-input item for a state event, with the partition of its agent.
        ``at``: when the router took it (wall clock, ms), for the status latency."""
        item: dict[str, Any] = {"k": "s", "t": tenant, "a": agent, "e": compact}
        if at is not None:
            item["r"] = at
        return self.rt.partition_of(agent_key(tenant, agent)), item

    async def send_items(self, by_partition: dict[int, list[Any]]) -> list[Any]:
        """Send agent-input items, one record per partition and chunk (at most
        ``items_per_record`` items and about 256 kB: schedules can be large)."""
        futures = []
        size = self.settings.items_per_record
        for part, items in by_partition.items():
            chunk: list[bytes] = []
            nbytes = 0
            first: Any = None
            for i, item in enumerate(items):
                data = encode(item)
                if first is None:
                    first = item
                chunk.append(data)
                nbytes += len(data)
                if len(chunk) >= size or nbytes >= 256 * 1024 or i == len(items) - 1:
                    futures.append(await self.send(
                        self.agent_input, key=f"{first['t']}:{first['a']}".encode(),
                        value=b'{"items":[' + b",".join(chunk) + b"]}", partition=part))
                    chunk, nbytes, first = [], 0, None
        return futures

    async def put(self, tbl: Any, key: str, value: Any, partition: int) -> Any:
        """Set (or with None, delete) a table key; returns the changelog delivery future.

        Written to the store and the changelog directly with an explicit partition,
        so batches (``take_events``) and timers can write too (faust's own table
        writes need the current stream event, faust #497), and the send goes straight
        to the producer (faust's buffered changelog send resolves late). A large value
        is stored compressed (``codec.pack_value``): read it with ``get``."""
        data = None
        if value is not None:
            value, data = pack_value(value)
        if tbl is self.agents:  # rta_snapshot_bytes
            if data is None:
                self.rt.snapshot_bytes.pop(key, None)
            else:
                self.rt.snapshot_bytes[key] = len(data)
        # the RocksDB store picks its per-partition database from the current event:
        # stand in one of this partition
        stand_in = _At(partition)
        token = _current_event.set(weakref.ref(stand_in))  # type: ignore[arg-type]
        try:
            if value is None:
                tbl.data.pop(key, None)
            else:
                tbl.data[key] = value
        finally:
            _current_event.reset(token)
        # the JSON bytes as the table's json serializer reads them back at recovery
        return await self.send(
            tbl.changelog_topic, key=key, value=data, partition=partition,
            key_serializer=tbl.key_serializer, value_serializer="raw",
            callback=tbl._on_changelog_sent)

    @staticmethod
    def get(tbl: Any, key: str) -> Any:
        """A table value as ``put`` wrote it (None: no entry)."""
        return unpack_value(tbl.get(key))

    async def send_marks(self, progress: dict[Any, str], force: bool) -> None:
        """Send the due marks of these input partitions (state: ``p``, schedule:
        ``"c<p>"``) to every directory partition, after what the router sent there:
        the directory step passes them on to the reducers (``Runtime.directory_done``)
        once it has forwarded what came before them."""
        marks = self.rt.due_marks(progress, force)
        if marks:
            value = encode({"items": marks})
            await self.delivered([
                await self.send(self.directory_topic, key=b"wm", value=value, partition=q)
                for q in range(self.settings.partitions)])

    async def send_directory_mark(self, mark: dict[str, Any]) -> None:
        """A directory partition's mark to every agent-input partition."""
        value = encode({"items": [mark]})
        await self.delivered([
            await self.send(self.agent_input, key=b"wm", value=value, partition=q)
            for q in range(self.settings.partitions)])

    async def recompute_needed(self, o: RecomputeNeeded, item: dict[str, Any]) -> Any:
        """A schedule change or a state event reached days that are final here: with a
        history database, ask for a recompute (streams.history.runner), which waits until the
        database has the input; without one, say so in a dead letter."""
        settings = self.settings
        command = (f"`rta recompute --tenant {o.tenant_id} --from {o.first} --to {o.last} "
                   f"--agent {o.agent_key}`")
        if settings.database_url:
            from streams.history.runner import schedule_digest

            self.rt.count("recompute_requests")
            request: dict[str, Any] = {"tenantId": o.tenant_id, "agentKey": o.agent_key,
                                       "first": o.first, "last": o.last}
            if o.event is not None:
                request["event"] = o.event
            elif o.moved is not None:
                request["moved"] = o.moved
            else:
                request["scheduleSha256"] = schedule_digest(item["b"])
            return await self.send(self.recompute_topic, key=o.key.encode(),
                                   value=encode(request))
        if o.event is not None:
            return await self.reject(None, Rejected(
                f"state event at {o.event['timestamp']} reaches days that are final on the "
                f"worker (days up to {o.last} are: more than the lateness horizon before "
                f"the agent's newest event and the input watermark), so it was applied "
                f"here from the next day on only: with a history database the rest happens "
                f"by itself; run {command} to apply it", o.event, cause="horizon"),
                settings.topic_state)
        if o.moved is not None:
            m = o.moved
            return await self.reject(None, Rejected(
                f"ACD identity {m['acdServerId']}/{m['acdAgentId']} moved from agent "
                f"{m['from']} to agent {m['to']}, but its events of {o.first} to {o.last} "
                f"count on agent {m['from']} in days that are final on the worker: run "
                f"{command} (with a history database this happens by itself)",
                {"tenantId": o.tenant_id, **m, "agentKey": o.agent_key, "first": o.first,
                 "last": o.last}, "directory", "horizon"), settings.topic_schedule)
        return await self.reject(None, Rejected(
            f"schedule change applied, but it reaches days that are final on the worker "
            f"({o.first} to {o.last}, before the lateness horizon): run {command} "
            "(with a history database this happens by itself)", item["b"], "schedule",
            "horizon"), settings.topic_schedule)
