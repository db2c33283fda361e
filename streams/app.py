"""The faust app: topics, tables, agents and timers around the pure core.

Data flow (all topics have the same number of partitions):

    rta.agent-state --route_states--> (directory hit)  rta-agent-input  (agent's partition)
                                  \\-> (miss) rta-directory "held" (key tenant:server:acd)
    rta.schedule ---route_schedules--> rta-agent-input
                                  \\-> rta-directory "dir" (key tenant:server:acd)
    rta-directory --directory_updates--> directory[identity] = agent; held[identity]
                                         (events of unknown identities, released in order)
    rta-agent-input --reducers--> AgentReducer (core) --> rta.agent-status, rta.alerts,
                                                          rta.adherence (timer), rta.deadletter

Only ``directory_updates`` writes ``directory`` and ``held``: an identity's
directory updates and held events share one rta-directory partition, so
they are handled in order whatever the timing. ``route_states`` only reads the
directory (a miss costs one more hop, never an event), so it runs on batches
(``take_events``) and sends one internal record per agent-input partition
and batch. The directory and the reducers take batches too; a table key is
written once per batch. Every step awaits the broker's acknowledgement of what it sent
before its input is acked, and every step is idempotent (event ids, window
replacement, upserts), so the service is at-least-once end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import threading
import time
import weakref
from types import SimpleNamespace
from typing import Any, NoReturn

import faust
import orjson
from aiokafka.partitioner import DefaultPartitioner
from faust.streams import _current_event
from faust.types import TP

from rta.agent import MAX_TS, AgentReducer, TenantContext
from rta.config import TenantsConfig
from rta.engine import bound_hold, future_rejection, hold_overflow_reason
from rta.models import InputError, parse_schedule
from rta.outputs import AlertOut, Output, RecomputeNeeded, Rejected, StatusOut
from rta.schedule import resolve_activities
from rta.states import LOGOUT
from streams import faust_fixes
from streams.codec import (
    DecodeError,
    agent_key,
    compact_state,
    dead_letter,
    decode_state,
    encode,
    identity_key,
    load_json,
    state_json,
)
from streams.rebalance import purge_unassigned
from streams.settings import WorkerSettings

log = logging.getLogger("rta.worker")
SLICE_SECONDS = 0.01  # timers yield the event loop after this much work
HOUR_MS = 3_600_000
NO_BOUND = MAX_TS  # the watermark when every input partition is idle


class _At:
    """A stand-in for faust's current event: only its message partition is read."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition, topic="")


def owner_of(entry: Any) -> str | None:
    """The agent of a directory entry: ``[agent, {schedule partition: offset}]`` (the
    first format was the agent alone)."""
    return entry if entry is None or isinstance(entry, str) else entry[0]


def now_ms() -> int:
    return int(time.time() * 1000)


def stop_unacked(step: str, exc: BaseException) -> NoReturn:
    """Stop the process now: nothing more is acked or committed (see ``guarded``)."""
    log.critical("%s failed: %r. The worker stops without acking this batch; restarted "
                 "(by its supervisor, or by hand) it reads the batch again from the "
                 "committed offsets", step, exc, exc_info=exc)
    logging.shutdown()
    os._exit(70)  # EX_SOFTWARE


class FreezeWatch:
    """Tells whether this process was frozen (SIGSTOP, a suspended VM) for longer than
    the group's session timeout: then the group may have given its partitions to
    another worker meanwhile, and anything it writes now (a table entry, a summary)
    could overwrite the newer state of their new owner (a zombie). A thread beats
    every 0.1 s; a gap longer than the limit between two beats, or since the last
    one, means the whole process stood still (the event loop alone being busy does
    not stop the thread)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.beat = time.monotonic()
        self.frozen_for = 0.0
        threading.Thread(target=self._run, name="rta-freeze-watch", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(0.1)
            at = time.monotonic()
            if at - self.beat > self.limit:
                self.frozen_for = max(self.frozen_for, at - self.beat)
            self.beat = at

    def check(self) -> None:
        """Stop the process (see ``stop_unacked``) if it was frozen."""
        gap = max(self.frozen_for, time.monotonic() - self.beat)
        if gap > self.limit:
            stop_unacked("writing", RuntimeError(
                f"this process stood still for {gap:.1f} s, longer than the session "
                f"timeout ({self.limit} s): its partitions may be another worker's now"))


class Runtime:
    """What one worker keeps in memory: reducers of its partitions, timers."""

    def __init__(self, settings: WorkerSettings, tenants: TenantsConfig) -> None:
        self.settings = settings
        self.tenants = tenants
        self.freeze = FreezeWatch(settings.broker_session_timeout)
        self.contexts: dict[str, TenantContext] = {}
        self.reducers: dict[str, AgentReducer] = {}
        self.deadlines: list[tuple[int, str]] = []  # (when, agent key), a heap
        self.due: dict[str, int] = {}  # the live deadline of each agent
        self.refresh: list[tuple[int, str]] = []
        self.refreshing: set[str] = set()
        self.pending: set[str] = set()  # agents whose changed summaries are to be emitted
        # alerts decided but not yet acknowledged by the broker, per agent: every
        # snapshot written carries them (durable before visible), and a reducer
        # restored from a snapshot sends them again (``resend``; identical copies)
        self.outbox: dict[str, list[AlertOut]] = {}
        self.resend: set[str] = set()  # restored agents whose outbox is to be sent again
        self.partitioner = DefaultPartitioner()
        self._partitions: dict[str, int] = {}  # key -> partition (agents and identities)
        self.counters: dict[str, int] = {}
        self.processed: dict[int, int] = {}  # agent-input partition -> last offset done
        # agent-input partition -> [next offset, {offsets done past a hole}]: every record
        # before ``next`` has been processed since reading started (reset at each
        # assignment); saved in each snapshot as ``inputThrough``
        self.input_run: dict[int, list[Any]] = {}
        # restored agents: their snapshot reflects every agent-input record up to this
        # offset, so such a record read again is a re-read (see apply_item)
        self.reread: dict[str, int] = {}
        # agent-input partition -> [(offset, marks)] read past a record not processed yet
        self.held_marks: dict[int, list[tuple[int, list[dict[str, Any]]]]] = {}
        self.highwater: Any = None  # (partition) -> log end offset, set by build_app
        self.ready = False  # tables recovered since the last rebalance
        # the routers' inputs (state, schedule, directory topics): last offset done
        self.upstream: dict[tuple[str, int], int] = {}
        self.upstream_state: Any = None  # () -> [(tp, end, start)], set by build_app
        self._upstream_checked: tuple[float, bool] = (-1.0, True)
        # input watermarks (see ``watermark``). Routers: the newest event time read per
        # state partition in this process, when it was read, and the mark last sent
        self.source_max: dict[int, int] = {}
        self.source_seen: dict[int, float] = {}
        # state partition -> [next offset, newest event time before it, {offset: event
        # time} of records routed past a hole]; reset at each assignment
        self.contig: dict[int, list[Any]] = {}
        self.marks_sent: dict[int, tuple[int | None, bool]] = {}  # (hour, idle)
        self.started = time.monotonic()
        self.marks_forced = 0.0  # when every mark was last sent again
        # reducers: per agent-input partition, each state partition's mark (newest
        # event time, idle)
        self.marks: dict[int, dict[int, tuple[int, bool]]] = {}

    def read_state(self, partition: int, offset: int, ts: int, start: int | None) -> None:
        """A state partition's record at ``offset`` (event time ``ts``, -1 for one
        dead-lettered) has been routed. The partition's mark is the newest event time
        of the records routed without a hole from where reading started (``start``):
        faust can leave fetched records unprocessed for a while (they are read
        again, see faust_fixes.heal), and a mark past them would make days final
        before their events arrive."""
        run = self.contig.get(partition)
        if run is None:
            run = self.contig[partition] = [offset if start is None else start, -1, {}]
        if offset >= run[0]:
            run[2][offset] = ts
            while run[0] in run[2]:
                run[1] = max(run[1], run[2].pop(run[0]))
                run[0] += 1
        if run[1] > self.source_max.get(partition, -1):
            self.source_max[partition] = run[1]
        self.source_seen[partition] = time.monotonic()

    def due_marks(self, progress: dict[int, str], force: bool) -> list[dict[str, Any]]:
        """The marks to send now of these (assigned) state partitions, each ``empty``
        (nothing was ever written to it), ``done`` (read to its end) or ``behind``. A
        partition's mark is the newest event time read from it in this process; ``i``
        (idle) when it is empty or read to its end, and silent for
        ``watermark_idle_seconds``: then it does not hold the watermark back. (Not an
        empty one at once: a producer may write old events to it later, as one of
        the randomized test's chunked logs did.) A partition with neither (read to
        its end before a restart) has no mark yet, and holds the watermark back until
        it has one. Sent when the mark moves by an hour or changes idleness, and every
        ``watermark_seconds`` (``force``)."""
        at = time.monotonic()
        out = []
        for part, where in progress.items():
            newest = self.source_max.get(part)
            silent = at - self.source_seen.get(part, self.started)
            idle = where != "behind" and silent >= self.settings.watermark_idle_seconds
            if newest is None and not idle:
                continue
            hour = None if newest is None else newest // HOUR_MS
            if force or self.marks_sent.get(part) != (hour, idle):
                self.marks_sent[part] = (hour, idle)
                out.append({"k": "wm", "s": part, "m": newest, "i": idle})
        return out

    def input_done(self, partition: int, offset: int, start: int | None) -> None:
        """Agent-input record ``offset`` has been processed (faust can process records
        past one it has not delivered yet: heal reads those again later)."""
        run = self.input_run.get(partition)
        if run is None:
            run = self.input_run[partition] = [offset if start is None else start, set()]
        if offset >= run[0]:
            run[1].add(offset)
            while run[0] in run[1]:
                run[1].discard(run[0])
                run[0] += 1
        held = self.held_marks.get(partition)
        if held:
            ready = [h for h in held if h[0] < run[0]]
            if ready:
                self.held_marks[partition] = [h for h in held if h[0] >= run[0]]
                for _, items in sorted(ready, key=lambda h: h[0]):
                    for item in items:
                        self.set_mark(partition, item)

    def take_marks(self, partition: int, offset: int, items: list[dict[str, Any]],
                   start: int | None) -> None:
        """A record of marks (``wm`` items) at ``offset``: applied once every record
        before it is processed. A mark tells that the state partition was routed up to
        it, and the records it was sent after may be among those not processed yet
        (faust reads them again later, see faust_fixes.heal): applied at once, the
        watermark could make their days final before they are applied."""
        self.held_marks.setdefault(partition, []).append((offset, items))
        self.input_done(partition, offset, start)

    def input_through(self, partition: int) -> int | None:
        """Every agent-input record of ``partition`` up to this offset is processed."""
        run = self.input_run.get(partition)
        return None if run is None else run[0] - 1

    def set_mark(self, partition: int, item: dict[str, Any]) -> None:
        marks = self.marks.setdefault(partition, {})
        old = marks.get(item["s"])
        newest = item["m"] if item["m"] is not None else -1
        if old is not None:
            newest = max(newest, old[0])
        marks[item["s"]] = (newest, bool(item["i"]))

    def watermark(self, partition: int) -> int | None:
        """The input watermark as known on agent-input ``partition``: every state
        partition has been routed up to this event time (the minimum over them of the
        newest event time routed, idle partitions left out). None until every
        state partition has a mark there. Finality (``AgentReducer.prune``) never
        passes the lateness horizon before it."""
        marks = self.marks.get(partition)
        if marks is None or len(marks) < self.settings.partitions:
            return None
        live = [newest for newest, idle in marks.values() if not idle]
        return min(live) if live else NO_BOUND

    def mark_upstream(self, events: list[Any]) -> None:
        for event in events:
            msg = event.message
            key = (msg.topic, msg.partition)
            if msg.offset > self.upstream.get(key, -1):
                self.upstream[key] = msg.offset

    def upstream_caught_up(self) -> bool:
        """No backlog waiting in front of the routers on this worker: while there is,
        an agent-input partition that looks caught up is only waiting for the routers
        (a cold start with a backlog), and alerts must stay in event time. Timers ask
        this for every agent: the answer is kept for 20 ms."""
        at = time.monotonic()
        if at - self._upstream_checked[0] < 0.02:
            return self._upstream_checked[1]
        value = self._upstream_caught_up()
        self._upstream_checked = (at, value)
        return value

    def _upstream_caught_up(self) -> bool:
        if self.upstream_state is None:
            return True
        try:
            parts = self.upstream_state()
        except Exception:
            return True
        for tp, end, start in parts:
            if end is None:
                return False  # no fetch answered yet: a backlog may be there
            done = self.upstream.get((tp.topic, tp.partition))
            if (done + 1 if done is not None else start) < end:
                return False
        return True

    def caught_up(self, partition: int) -> bool:
        """No backlog left on this agent-input partition, nor in front of the routers
        (live mode)."""
        done = self.processed.get(partition)
        if done is None or self.highwater is None:
            return self.upstream_caught_up()
        try:
            end = self.highwater(partition)
        except Exception:  # not assigned (any more), or no fetch yet
            return self.upstream_caught_up()
        return (end is None or done + 1 >= end) and self.upstream_caught_up()

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def context(self, tenant_id: str) -> TenantContext:
        ctx = self.contexts.get(tenant_id)
        if ctx is None:
            ctx = self.contexts[tenant_id] = TenantContext(tenant_id, self.tenants.get(tenant_id))
        return ctx

    def partition_of(self, key: str) -> int:
        """The partition the producer's default partitioner gives ``key`` (cached)."""
        part = self._partitions.get(key)
        if part is None:
            parts = list(range(self.settings.partitions))
            part = self._partitions[key] = int(self.partitioner(key.encode(), parts, parts))
        return part

    def schedule_deadline(self, akey: str, reducer: AgentReducer, now: int) -> None:
        when = reducer.next_deadline(now)
        if when is None:
            self.due.pop(akey, None)
            return
        if self.due.get(akey) != when:
            self.due[akey] = when
            heapq.heappush(self.deadlines, (when, akey))
        if akey not in self.refreshing:
            self.refreshing.add(akey)
            period = int(self.settings.refresh_seconds * 1000)
            # spread refreshes over the period instead of one burst
            first = now + (hash(akey) % period)
            heapq.heappush(self.refresh, (first, akey))


def build_app(settings: WorkerSettings, tenants: TenantsConfig) -> faust.App:
    faust_fixes.apply(settings.fetch_max_wait_ms)
    p = settings.partitions
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=p,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=0,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_commit_interval=settings.broker_commit_interval,
        producer_linger=settings.producer_linger,
        producer_max_batch_size=settings.producer_max_batch_size,
        # an input record may be RTA_MAX_MESSAGE_BYTES (1,000,000) and is forwarded with
        # a small wrapper: allow up to Kafka's default message.max.bytes (1,048,588)
        producer_max_request_size=1_048_576,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,  # the HTTP API is our own aiohttp server (streams.api_backend)
        canonical_url=settings.advertised_url,  # shared through the assignor: who owns what
        key_serializer="raw",
        value_serializer="raw",
    )
    rt = Runtime(settings, tenants)
    app.rta_runtime = rt  # type: ignore[attr-defined]

    def topic(name: str, **kw: Any) -> Any:
        return app.topic(name, partitions=p, key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw", **kw)

    state_in = topic(settings.topic_state)
    schedule_in = topic(settings.topic_schedule)
    adherence_out = topic(settings.topic_adherence, compacting=True)
    status_out = topic(settings.topic_status, compacting=True)
    alerts_out = topic(settings.topic_alerts)
    deadletter_out = topic(settings.topic_deadletter)
    sessions_topic = topic(settings.topic_sessions, compacting=True)
    recompute_topic = topic(settings.topic_recompute)
    directory_topic = topic(f"{settings.app_id}-directory", internal=True)
    agent_input = topic(f"{settings.app_id}-agent-input", internal=True)

    def table(name: str) -> Any:
        schema: Any = faust.Schema(key_type=str, key_serializer="json",
                                   value_serializer="json")
        return app.Table(name, default=None, partitions=p, schema=schema)

    directory = table("directory")  # identity -> agent id (within the tenant)
    held = table("held")  # identity -> [[timestamp, arrival, compact event], ...]
    agents = table("agents")  # tenant:agent -> reducer snapshot

    def generation() -> int:
        return int(app.consumer_generation_id)

    def stale(event: Any, gen: int) -> bool:
        """The event was fetched before a rebalance that began since (``gen`` is the
        generation its batch started in). Its partition may belong to another worker
        now, which reads it again from the committed offset (faust_fixes refuses its
        ack): handling it here as well could overwrite the new owner's table entries
        with state built from a partial history."""
        msg_gen = getattr(event.message, "generation_id", gen)
        return msg_gen != gen or generation() != gen or not app.flow_control.is_active()

    async def send(topic: Any, **kw: Any) -> Any:
        """Every record the worker writes (outputs, internal topics, changelogs) goes
        through here: none after the process stood still (``FreezeWatch``)."""
        rt.freeze.check()
        return await topic.send(**kw)

    async def to_deadletter(event: Any, reason: str, value: bytes | None = None) -> Any:
        """Send the event's message to the dead-letter topic; returns the delivery future."""
        msg = event.message
        rt.count("deadletter")
        return await send(deadletter_out, key=msg.key, value=dead_letter(
            msg.topic, msg.partition, msg.offset, msg.key,
            msg.value if value is None else value, reason, now_ms()))

    async def reject(source_key: bytes | None, rej: Rejected, topic_name: str) -> Any:
        rt.count("deadletter")
        return await send(deadletter_out, key=source_key, value=dead_letter(
            topic_name, None, None, source_key, encode(rej.payload), rej.reason, now_ms()))

    async def delivered(futures: list[Any]) -> None:
        """Wait until the broker has these records. An input is acked only after what
        it caused is acknowledged, and a table write comes after the sends it marks as
        done: a crash in between replays the input instead of losing its effects."""
        for fut in futures:
            await fut

    async def guarded(step: str, body: Any, events: list[Any]) -> None:
        """Run one batch's body. Bad input never raises here (each event is decoded or
        dead-lettered on its own); what does raise is the infrastructure: a send or a
        table write that failed, a record the broker refused. faust would then ack the
        whole batch (its ``take_events`` acks in a ``finally``), losing what was not
        done. So the worker stops at once, before anything of the batch is acked or
        committed; restarted, it reads the batch again from the committed offsets."""
        rt.freeze.check()
        try:
            await body(events)
        except Exception as exc:
            stop_unacked(step, exc)

    async def send_items(by_partition: dict[int, list[Any]]) -> list[Any]:
        """Send agent-input items, one record per partition and chunk (at most
        ``items_per_record`` items and about 256 kB: schedules can be large)."""
        futures = []
        size = settings.items_per_record
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
                    futures.append(await send(agent_input,
                        key=f"{first['t']}:{first['a']}".encode(),
                        value=b'{"items":[' + b",".join(chunk) + b"]}", partition=part))
                    chunk, nbytes, first = [], 0, None
        return futures

    async def put(tbl: Any, key: str, value: Any, partition: int) -> Any:
        """Set (or with None, delete) a table key; returns the changelog delivery future.

        Written to the store and the changelog directly with an explicit partition,
        so batches (``take_events``) and timers can write too (faust's own table
        writes need the current stream event, faust #497), and the send goes straight
        to the producer (faust's buffered changelog send resolves late)."""
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
        return await send(tbl.changelog_topic,
            key=key, value=value, partition=partition, key_serializer=tbl.key_serializer,
            value_serializer="raw" if value is None else tbl.value_serializer,
            callback=tbl._on_changelog_sent)

    async def recompute_needed(o: RecomputeNeeded, item: dict[str, Any]) -> Any:
        """A schedule change or a state event reached days that are final here: with a
        history database, ask for a recompute (streams.recompute), which waits until the
        database has the input; without one, say so in a dead letter."""
        command = (f"`rta recompute --tenant {o.tenant_id} --from {o.first} --to {o.last} "
                   f"--agent {o.agent_key}`")
        if settings.database_url:
            from streams.recompute import schedule_digest

            rt.count("recompute_requests")
            request: dict[str, Any] = {"tenantId": o.tenant_id, "agentKey": o.agent_key,
                                       "first": o.first, "last": o.last}
            if o.event is not None:
                request["event"] = o.event
            elif o.moved is not None:
                request["moved"] = o.moved
            else:
                request["scheduleSha256"] = schedule_digest(item["b"])
            return await send(recompute_topic, key=o.key.encode(), value=encode(request))
        if o.event is not None:
            return await reject(None, Rejected(
                f"state event at {o.event['timestamp']} reaches days that are final on the "
                f"worker (days up to {o.last} are: more than the lateness horizon before "
                f"the agent's newest event and the input watermark), so it was not "
                f"applied here: with a history database this happens by itself; run "
                f"{command} to apply it", o.event), settings.topic_state)
        if o.moved is not None:
            m = o.moved
            return await reject(None, Rejected(
                f"ACD identity {m['acdServerId']}/{m['acdAgentId']} moved from agent "
                f"{m['from']} to agent {m['to']}, but its events of {o.first} to {o.last} "
                f"count on agent {m['from']} in days that are final on the worker: run "
                f"{command} (with a history database this happens by itself)",
                {"tenantId": o.tenant_id, **m}, "directory"), settings.topic_schedule)
        return await reject(None, Rejected(
            f"schedule change applied, but it reaches days that are final on the worker "
            f"({o.first} to {o.last}, before the lateness horizon): run {command} "
            "(with a history database this happens by itself)", item["b"], "schedule"),
            settings.topic_schedule)

    async def send_marks(progress: dict[int, str], force: bool) -> None:
        """Send the due marks of these state partitions to every agent-input partition."""
        marks = rt.due_marks(progress, force)
        if marks:
            value = encode({"items": marks})
            await delivered([await send(agent_input, key=b"wm", value=value, partition=q)
                             for q in range(p)])

    @app.timer(interval=1.0)
    async def watermarks() -> None:
        """Marks of the state partitions assigned here: idleness, and the periodic
        re-send that lets a restarted reducer learn the watermark again."""
        if rt.upstream_state is None or app.rebalancing:
            return
        state_topic = state_in.get_topic_name()
        progress = {}
        for tp, end, start in rt.upstream_state():
            if tp.topic == state_topic and end is not None:
                done = rt.upstream.get((tp.topic, tp.partition))
                read = done + 1 if done is not None else start
                progress[tp.partition] = ("empty" if end == 0 else
                                          "done" if read >= end else "behind")
        at = time.monotonic()
        force = at - rt.marks_forced >= settings.watermark_seconds
        if force:
            rt.marks_forced = at
        await send_marks(progress, force)

    def state_item(tenant: str, agent: str, compact: list[Any]) -> tuple[int, dict[str, Any]]:
        return (rt.partition_of(agent_key(tenant, agent)),
                {"k": "s", "t": tenant, "a": agent, "e": compact})

    # ------------------------------------------------------------------ routing
    @app.agent(state_in)
    async def route_states(stream: Any) -> None:
        async def batch(events: list[Any]) -> None:
            futures: list[Any] = []
            forwards: dict[int, list[Any]] = {}
            holds: dict[str, dict[str, Any]] = {}
            routed: list[tuple[int, int, int]] = []  # (partition, offset, event time)
            now = now_ms()
            gen = generation()
            for event in events:
                if stale(event, gen):
                    continue  # not routed: a hole in the marks (read_state)
                routed.append((event.message.partition, event.message.offset, -1))
                try:
                    ev = decode_state(event.value, settings.max_message_bytes)
                except DecodeError as exc:
                    futures.append(await to_deadletter(event, str(exc)))
                    continue
                try:
                    ctx = rt.context(ev.tenant_id)
                    too_far = future_rejection(ev, now, ctx.settings)
                    routed[-1] = (routed[-1][0], routed[-1][1], ev.timestamp)
                    if too_far is not None:
                        futures.append(await to_deadletter(event, too_far))
                        continue
                    # with its place in the log: an identity's events can reach its agent
                    # out of log order (rta.timeline)
                    arrival = event.message.partition * 2**40 + event.message.offset
                    compact = [*compact_state(ev), arrival]
                    ikey = identity_key(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)
                    owner = owner_of(directory.get(ikey))
                    if owner is not None:
                        part, item = state_item(ev.tenant_id, owner, compact)
                        forwards.setdefault(part, []).append(item)
                    else:  # unknown here: the identity's directory partition decides
                        hold = holds.setdefault(ikey, {
                            "kind": "held", "tenant": ev.tenant_id, "server": ev.acd_server_id,
                            "acd": ev.acd_agent_id, "events": []})
                        hold["events"].append([ev.timestamp, arrival, compact])
                except Exception as exc:  # the worker never dies of input
                    log.exception("state event failed")
                    futures.append(await to_deadletter(event, f"internal error: {exc!r}"))
            futures += await send_items(forwards)
            for ikey, hold in holds.items():
                futures.append(await send(directory_topic, key=ikey.encode(), value=encode(hold)))
            await delivered(futures)
            # after what it marks: an agent-input partition sees a state partition's
            # mark after every event routed straight to it from before that mark
            topic_name = state_in.get_topic_name()
            for part, offset, ts in routed:
                rt.read_state(part, offset, ts, faust_fixes.start_offset(
                    app.consumer, TP(topic_name, part)))
            await send_marks({part: "behind" for part, _, _ in routed}, force=False)
            rt.mark_upstream(events)
            rt.count("routed", len(events))

        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            await guarded("routing states", batch, events)

    @app.agent(schedule_in)
    async def route_schedules(stream: Any) -> None:
        # Batched like the states: a WFM publishes the schedules of a whole centre at
        # once, and one broker round trip per message would cap that at a few hundred
        # messages per second.
        async def batch(events: list[Any]) -> None:
            futures: list[Any] = []
            forwards: dict[int, list[Any]] = {}
            dirs: list[tuple[bytes, bytes]] = []
            gen = generation()
            for event in events:
                if stale(event, gen):
                    continue
                try:
                    body = load_json(event.value, settings.max_message_bytes)
                    msg = parse_schedule(body)
                except (DecodeError, InputError) as exc:
                    futures.append(await to_deadletter(event, str(exc)))
                    continue
                try:
                    tenant = msg.tenant_id
                    part = rt.partition_of(agent_key(tenant, msg.agent_key))
                    forwards.setdefault(part, []).append(
                        {"k": "sch", "t": tenant, "a": msg.agent_key, "b": body})
                    src = [event.message.partition, event.message.offset]
                    dirs.extend((identity_key(tenant, server, acd).encode(), encode(
                        {"kind": "dir", "tenant": tenant, "server": server, "acd": acd,
                         "agent": msg.agent_key, "src": src})) for server, acd in msg.identities)
                except Exception as exc:
                    log.exception("schedule message failed")
                    futures.append(await to_deadletter(event, f"internal error: {exc!r}"))
            # the schedules reach their agents before the directory learns the identities
            # they name: a move the directory then orders (to another agent's partition)
            # comes after every schedule of this batch that names the identity
            futures += await send_items(forwards)
            await delivered(futures)
            await delivered([await send(directory_topic, key=k, value=v) for k, v in dirs])
            rt.mark_upstream(events)

        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            await guarded("routing schedules", batch, events)

    @app.agent(directory_topic)
    async def directory_updates(stream: Any) -> None:
        # Batched like the routing: within a batch the directory and the held events
        # are read and changed in memory (``dirs``, ``holds``: key -> new value, None
        # deletes), then written once per key, after what the batch sent is delivered.
        async def batch(events: list[Any]) -> None:
            futures: list[Any] = []
            forwards: dict[int, list[Any]] = {}
            dirs: dict[str, tuple[int, list[Any]]] = {}
            holds: dict[str, tuple[int, list[Any] | None]] = {}
            now = now_ms()

            def entry_of(ikey: str, dirs: dict[str, tuple[int, list[Any]]] = dirs,
                         ) -> list[Any] | None:
                if ikey in dirs:
                    return dirs[ikey][1]
                value = directory.get(ikey)
                return [value, {}] if isinstance(value, str) else value

            def held_of(ikey: str, holds: dict[str, tuple[int, list[Any] | None]] = holds,
                        ) -> list[Any]:
                return (holds[ikey][1] if ikey in holds else held.get(ikey)) or []

            gen = generation()
            for event in events:
                if stale(event, gen):
                    continue
                try:
                    upd = orjson.loads(event.value)
                    tenant, server, acd = upd["tenant"], upd["server"], upd["acd"]
                    ikey = identity_key(tenant, server, acd)
                    part = event.message.partition
                    entry = entry_of(ikey)
                    owner = entry[0] if entry is not None else None
                    if upd.get("kind") == "held":
                        if owner is not None:  # known by now: straight to the agent
                            forwards.setdefault(rt.partition_of(agent_key(tenant, owner)),
                                                []).extend(state_item(tenant, owner, e)[1]
                                                           for _, _, e in upd["events"])
                            log.info("forwarding %d events of %s to agent %s",
                                     len(upd["events"]), ikey, owner)
                            continue
                        # hold, bounded by count and event-time span; a replayed record
                        # (at-least-once) adds nothing: entries are unique by arrival.
                        # Each entry [ts, arrival, event, held at (worker clock)]: the
                        # span bound applies only once the identity has been unknown for
                        # hold_grace_seconds. Until then the schedule that names it may be
                        # on its way (the two input topics are read at their own pace,
                        # and a router can read a state partition ahead of where the
                        # directory is): bounded at once, a backlog spanning months lost
                        # all but its last week (the randomized test, seed 1)
                        merged = {x[1]: x for x in held_of(ikey)}
                        for ts, a, e in upd["events"]:
                            merged.setdefault(a, [ts, a, e, now])
                        items = sorted(merged.values(), key=lambda x: (x[0], x[1]))
                        ctx = rt.context(tenant)
                        since = min(x[3] if len(x) > 3 else 0 for x in items)
                        by_span = now - since >= settings.hold_grace_seconds * 1000
                        for _, _, e, *_ in bound_hold(items, ctx.settings, by_span):
                            futures.append(await reject(event.message.key, Rejected(
                                hold_overflow_reason(ikey, ctx.settings),
                                state_json(tenant, e)), settings.topic_state))
                        holds[ikey] = (part, items)
                        rt.count("held", len(upd["events"]))
                        log.info("holding %d events of %s (%d held)", len(upd["events"]),
                                 ikey, len(items))
                        continue
                    agent = upd["agent"]
                    # the schedule message that names the identity, by its place in the
                    # schedule topic: one read again (at-least-once, after a crash or a
                    # rebalance there) must not undo a mapping another partition's
                    # message made since
                    seen = dict(entry[1]) if entry is not None else {}
                    src, offset = upd.get("src") or (None, None)  # (no src: the first format)
                    if src is not None and seen.get(str(src), -1) >= offset:
                        agent = owner  # read again: the mapping stays (held events go)
                    else:
                        if src is not None:
                            seen[str(src)] = offset
                        if owner is None:  # the agent adopts it (its events follow)
                            forwards.setdefault(rt.partition_of(agent_key(tenant, agent)),
                                                []).append({"k": "ad", "t": tenant, "a": agent,
                                                            "i": [server, acd]})
                        elif owner != agent:  # it moves: the owner hands it over ("m")
                            forwards.setdefault(rt.partition_of(agent_key(tenant, owner)),
                                                []).append({"k": "m", "t": tenant, "a": owner,
                                                            "i": [server, acd], "to": agent})
                        dirs[ikey] = (part, [agent, seen])
                    items = held_of(ikey)
                    if items:  # release in arrival order
                        forwards.setdefault(rt.partition_of(agent_key(tenant, agent)), []).extend(
                            state_item(tenant, agent, x[2])[1]
                            for x in sorted(items, key=lambda x: x[1]))
                        rt.count("released", len(items))
                        log.info("releasing %d held events of %s to agent %s", len(items),
                                 ikey, agent)
                        holds[ikey] = (part, None)
                except Exception as exc:
                    log.exception("directory update failed")
                    futures.append(await to_deadletter(event, f"internal error: {exc!r}"))
            futures += await send_items(forwards)
            await delivered(futures)
            # the table changes go last: a crash before them replays the batch, and
            # so does a rebalance (the partitions' new owners replay it)
            if generation() != gen:
                return
            written = [await put(directory, k, v, part) for k, (part, v) in dirs.items()]
            written += [await put(held, k, v, part) for k, (part, v) in holds.items()]
            await delivered(written)
            rt.mark_upstream(events)

        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            await guarded("directory updates", batch, events)

    # ------------------------------------------------------------------ reducers
    def highwater(partition: int) -> int | None:
        return app.consumer.highwater(TP(agent_input.get_topic_name(), partition))

    rt.highwater = highwater
    upstream_topics = {state_in.get_topic_name(), schedule_in.get_topic_name(),
                       directory_topic.get_topic_name()}

    def upstream_state() -> list[tuple[Any, int | None, int]]:
        """(partition, log end, where reading starts) of the routers' inputs. A partition
        nothing was read from in this process starts at its committed offset, which is
        the consumer's fetch position until something is fetched."""
        consumer: Any = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        try:
            positions = consumer._thread._consumer._subscription.subscription.assignment
        except AttributeError:
            positions = None
        out: list[tuple[Any, int | None, int]] = []
        for tp in consumer.assignment():
            if tp.topic not in upstream_topics:
                continue
            start = committed.get(tp) or 0
            if positions is not None:
                with contextlib.suppress(Exception):
                    start = max(start, positions.state_value(tp).position or 0)
            out.append((tp, consumer.highwater(tp), start))
        return out

    rt.upstream_state = upstream_state

    def reducer_for(akey: str, tenant: str) -> AgentReducer:
        reducer = rt.reducers.get(akey)
        if reducer is None:
            snap = agents.get(akey)
            ctx = rt.context(tenant)
            if snap is None:
                reducer = AgentReducer(ctx, akey[len(tenant) + 1:])
            else:
                reducer = AgentReducer.restore(ctx, snap)
                if snap.get("inputThrough") is not None:
                    rt.reread[akey] = snap["inputThrough"]
                if snap.get("outbox"):
                    rt.outbox[akey] = [AlertOut(tenant, akey[len(tenant) + 1:], alert)
                                       for alert in snap["outbox"]]
                    rt.resend.add(akey)
                reducer.last_status = None  # its last status may not have been delivered
                # the previous owner may have stopped before emitting its last changes:
                # emit every day again (idempotent upserts)
                reducer.changed.update(reducer.candidate_days(None))
                reducer.changed.update(reducer.emitted)
                rt.pending.add(akey)
                rt.count("restored")
            rt.reducers[akey] = reducer
        return reducer

    async def save(akey: str, reducer: AgentReducer) -> Any | None:
        """Write the agent's snapshot; returns the changelog delivery future (awaitable).

        A reducer that is no longer ours (its partition was revoked while we awaited)
        is not saved (None): its new owner's state is newer."""
        if rt.reducers.get(akey) is not reducer:
            return None
        snap = reducer.snapshot()
        through = rt.input_through(rt.partition_of(akey))
        if through is not None:
            snap["inputThrough"] = max(through, rt.reread.get(akey, -1))
        elif akey in rt.reread:
            snap["inputThrough"] = rt.reread[akey]
        unsent = rt.outbox.get(akey)
        if unsent:
            snap["outbox"] = [o.alert for o in unsent]
        return await put(agents, akey, snap, rt.partition_of(akey))

    async def publish_alerts(decided: list[tuple[str, AgentReducer, list[AlertOut]]]) -> None:
        """Alerts decided for these agents (already in ``rt.outbox`` from the moment
        they were decided, so every snapshot written since carries them): each agent's
        snapshot is saved, then its alerts are sent, then the snapshot is saved again
        without them. A crash in between re-sends them on restore, with the same ids
        and contents; an agent no longer ours sends nothing (its new owner has the
        outbox, or decides again)."""
        gen = generation()
        saved = [(await save(akey, reducer), akey, reducer, alerts)
                 for akey, reducer, alerts in decided]
        await delivered([f for f, _, _, _ in saved if f is not None])
        sent, done = [], []
        for fut, akey, reducer, alerts in saved:
            if fut is None or generation() != gen or rt.reducers.get(akey) is not reducer:
                continue
            sent += [await send(alerts_out, key=o.key.encode(), value=encode(o.alert))
                     for o in alerts]
            done.append((akey, reducer, alerts))
        await delivered(sent)
        cleared = []
        for akey, reducer, alerts in done:
            left = [o for o in rt.outbox.get(akey, []) if o not in alerts]
            if left:
                rt.outbox[akey] = left
            else:
                rt.outbox.pop(akey, None)
            cleared.append(await save(akey, reducer))  # the stored outbox too
        await delivered([f for f in cleared if f is not None])


    async def apply_item(item: dict[str, Any], reducer: AgentReducer, now: int,
                         futures: list[Any]) -> list[Output]:
        """Apply one agent-input item. Inputs are evaluated in event time (a state event
        at its own timestamp, never later than the worker clock ``now``; a schedule or a
        move not at all): what an input decides depends on the log, not on when it was
        read. Only the alert timer evaluates at the worker clock, for agents whose
        input has no backlog (docs/ARCHITECTURE.md, "Time")."""
        kind, tenant = item["k"], item["t"]
        if kind == "s":
            server, acd, state, ts, reason, eid, *pos = item["e"]
            to = None if "mv" in item else reducer.moved_to((server, acd))
            if to is not None:
                # routed here by a directory entry read before the identity moved: on to
                # its agent (which sends it further if it moved again)
                futures += await send_items({rt.partition_of(agent_key(tenant, to)): [
                    state_item(tenant, to, item["e"])[1]]})
                rt.count("rerouted")
                return []
            reducer.add_identity((server, acd))
            return reducer.apply_state((server, acd), ts, state, reason, eid,
                                       min(ts, now), moved="mv" in item,
                                       pos=pos[0] if pos else None)
        if kind == "ad":  # an identity moved here (its events, if any, follow)
            server, acd = item["i"]
            reducer.add_identity((server, acd))
            return []
        if kind == "fl":  # after a moved identity's events: its history starts here
            reducer.prune(at=item["f"])
            return []
        if kind == "sch":
            msg = parse_schedule(item["b"])
            # (the identities it names are the directory's to give: "ad" items)
            parts = resolve_activities(
                msg.from_ts, msg.to_ts,
                ((a.activity_type, a.start, a.end) for a in msg.activities), reducer.ctx.rules)
            return reducer.apply_schedule(msg.agent_id, msg.acd_agent_id, msg.from_ts,
                                          msg.to_ts, parts, None)
        if kind == "m":  # the identity belongs to another agent now: its events follow
            server, acd = item["i"]
            to = item["to"]
            tl = reducer.remove_identity((server, acd), to)
            final = [] if tl is None else reducer.final_days_moved((server, acd), tl, to)
            moved: list[dict[str, Any]] = [{"k": "ad", "t": tenant, "a": to, "i": [server, acd]}]
            moved += [{**state_item(tenant, to, [server, acd, e.state, e.ts, e.reason,
                                                 e.eid or None, e.pos])[1], "mv": 1}
                     for e in (tl.entries if tl is not None else [])]
            if tl is not None and tl.floor is not None:
                # the days before the floor of the agent it leaves cannot be
                # recomputed where it goes: they become final there too (and both
                # agents' final days are recomputed from the history: ``final``)
                moved.append({"k": "fl", "t": tenant, "a": to, "f": tl.floor})
            futures += await send_items({rt.partition_of(agent_key(tenant, to)): moved})
            return final
        raise ValueError(f"unknown internal item kind {kind!r}")

    async def reduce_record(event: Any, now: int, futures: list[Any],
                            statuses: dict[str, StatusOut],
                            touched: dict[str, AgentReducer],
                            alerts: dict[str, list[AlertOut]]) -> None:
        """Apply one agent-input record's items; what it sends is added to ``futures``."""
        try:
            items = orjson.loads(event.value)["items"]
        except Exception as exc:
            log.exception("agent input record failed")
            futures.append(await to_deadletter(event, f"internal error: {exc!r}"))
            return
        partition = event.message.partition
        rt.processed[partition] = event.message.offset
        if items and items[0].get("k") == "wm":  # a record of marks (send_marks)
            rt.take_marks(partition, event.message.offset, items, faust_fixes.start_offset(
                app.consumer, TP(agent_input.get_topic_name(), partition)))
            return
        for item in items:
            try:
                akey = agent_key(item["t"], item["a"])
                reducer = reducer_for(akey, item["t"])
                touched[akey] = reducer
                outs = await apply_item(item, reducer, now, futures)
                if event.message.offset <= rt.reread.get(akey, -1):
                    # read again (a restart re-reads from the committed offset): the
                    # snapshot already holds its effects, and what it rejected or sent
                    # to a recompute then was delivered before that snapshot was saved
                    # (a state event before a floor set since would ask again)
                    outs = [o for o in outs if not isinstance(o, Rejected | RecomputeNeeded)]
            except Exception as exc:
                log.exception("agent input item failed")
                futures.append(await to_deadletter(
                    event, f"internal error: {exc!r}", encode(item)))
                continue
            for o in outs:
                if isinstance(o, AlertOut):  # sent once saved
                    alerts.setdefault(akey, []).append(o)
                    rt.outbox.setdefault(akey, []).append(o)
                elif isinstance(o, StatusOut):
                    statuses[o.key] = o
                elif isinstance(o, Rejected):
                    if not o.payload and item["k"] == "s":
                        o = Rejected(o.reason, state_json(item["t"], item["e"]), o.kind)
                    futures.append(await reject(None, o, settings.topic_state))
                elif isinstance(o, RecomputeNeeded):
                    futures.append(await recompute_needed(o, item))
        rt.count("applied", len(items))

    @app.agent(agent_input)
    async def reducers(stream: Any) -> None:
        # Records are taken in batches: the broker round trips (outputs, then the
        # snapshots) are paid once per batch, and each touched agent's snapshot is
        # written once per batch. faust acks a batch's events only after this body
        # has finished with it; an item that fails is dead-lettered, never raised.
        async def batch(events: list[Any]) -> None:
            now = now_ms()
            futures: list[Any] = []
            statuses: dict[str, StatusOut] = {}  # the last status per agent is enough
            touched: dict[str, AgentReducer] = {}
            alerts: dict[str, list[AlertOut]] = {}
            gen = generation()
            done = []
            for event in events:
                if not stale(event, gen):
                    await reduce_record(event, now, futures, statuses, touched, alerts)
                    done.append(event.message)
            for st in statuses.values():  # compacted: superseded by the next one
                await send(status_out, key=st.key.encode(), value=encode(st.status))
            await delivered(futures)
            # processed, and what they caused delivered: the snapshots saved from now on
            # hold them (``inputThrough``)
            topic_name = agent_input.get_topic_name()
            for msg in done:
                rt.input_done(msg.partition, msg.offset, faust_fixes.start_offset(
                    app.consumer, TP(topic_name, msg.partition)))
            if generation() != gen:
                return  # rebalanced meanwhile: these reducers were forgotten, see stale()
            await publish_alerts([(akey, reducer, alerts[akey]) for akey, reducer
                                  in touched.items() if akey in alerts])
            saved = [await save(akey, reducer) for akey, reducer in touched.items()
                     if akey not in alerts]
            await delivered([f for f in saved if f is not None])
            for akey, reducer in touched.items():
                rt.pending.add(akey)
                rt.schedule_deadline(akey, reducer, now)

        async for events in stream.take_events(settings.reduce_batch_max,
                                               settings.batch_within):
            await guarded("reducing agent input", batch, events)

    @app.timer(interval=settings.tick_seconds)
    async def alert_timer() -> None:
        rt.freeze.check()
        now = now_ms()
        decided: list[tuple[str, AgentReducer, list[AlertOut]]] = []
        for akey in list(rt.resend):  # restored outboxes: sent again, identical
            rt.resend.discard(akey)
            reducer = rt.reducers.get(akey)
            if reducer is not None and rt.outbox.get(akey):
                decided.append((akey, reducer, list(rt.outbox[akey])))
        slice_end = time.perf_counter() + SLICE_SECONDS
        while rt.deadlines and rt.deadlines[0][0] <= now:
            if time.perf_counter() > slice_end:  # e.g. every shift starting at 9:00
                await asyncio.sleep(0)
                slice_end = time.perf_counter() + SLICE_SECONDS
            when, akey = heapq.heappop(rt.deadlines)
            reducer = rt.reducers.get(akey)
            if reducer is None or rt.due.get(akey) != when:
                continue  # revoked, or superseded by a newer deadline
            if not rt.caught_up(rt.partition_of(akey)):
                heapq.heappush(rt.deadlines, (when + 1000, akey))  # backlog first
                rt.due[akey] = when + 1000
                continue
            del rt.due[akey]
            outs = reducer.tick(now)
            fired = [o for o in outs if isinstance(o, AlertOut)]
            if fired:  # saved with the alert state that decided them, then sent
                rt.outbox.setdefault(akey, []).extend(fired)
                decided.append((akey, reducer, fired))
            for o in outs:
                if isinstance(o, StatusOut):
                    await send(status_out, key=o.key.encode(), value=encode(o.status))
            rt.pending.add(akey)
            rt.schedule_deadline(akey, reducer, now)
        if decided:
            await publish_alerts(decided)
        period = int(settings.refresh_seconds * 1000)
        while rt.refresh and rt.refresh[0][0] <= now:
            when, akey = heapq.heappop(rt.refresh)
            reducer = rt.reducers.get(akey)
            if reducer is None:
                rt.refreshing.discard(akey)
                continue
            if reducer.eff.current[0] != LOGOUT and rt.caught_up(rt.partition_of(akey)):
                reducer.changed.add(reducer.ctx.calendar.ordinal(now))
                rt.pending.add(akey)
            heapq.heappush(rt.refresh, (when + period, akey))

    @app.timer(interval=settings.emit_seconds)
    async def emit_summaries() -> None:
        rt.freeze.check()
        now = now_ms()
        pending, rt.pending = rt.pending, set()
        slice_end = time.perf_counter() + SLICE_SECONDS
        for akey in pending:
            if time.perf_counter() > slice_end:
                # building is CPU work between awaits that need not yield: give the
                # reducers the loop now and then (100,000 agents logging in at once
                # would otherwise hold them for seconds)
                await asyncio.sleep(0)
                slice_end = time.perf_counter() + SLICE_SECONDS
            reducer = rt.reducers.get(akey)
            if reducer is None:
                continue
            # live: as of the worker clock; catching up on a backlog: as of the agent's
            # last known instant (event time), so a backlog never paints open runs up to
            # the wall clock (days that later events would delete again)
            live = rt.caught_up(rt.partition_of(akey))
            as_of = now if live else None
            before = set(reducer.emitted)
            outs = reducer.build_changed(as_of)
            if reducer.emitted != before:
                # which days exist is saved before they are published: after a crash the
                # restored reducer re-emits them, or sends the tombstones they need
                fut = await save(akey, reducer)
                if fut is None:
                    continue  # revoked meanwhile: the new owner publishes
                await delivered([fut])
            sent = []
            for out in outs:
                value = None if out.summary is None else encode(
                    {**out.summary, "asOf": now if live else reducer.newest})
                sent.append(await send(adherence_out, key=out.key.encode(), value=value))
                rt.count("summaries")
            watermark = rt.watermark(rt.partition_of(akey))
            if watermark is not None and reducer.prune(watermark=watermark):
                # the days before the new floor are final and will not be published
                # again, so their last summaries must be on the broker before the
                # snapshot that forgets them
                await delivered(sent)
                fut = await save(akey, reducer)
                if fut is not None:
                    await delivered([fut])
                    rt.count("pruned")

    @app.timer(interval=2.0)
    async def heal_fetches() -> None:
        for _ in await faust_fixes.heal(app):
            rt.count("healed")

    @app.timer(interval=settings.stats_seconds)
    async def stats() -> None:
        """One log line of counters (what `rta bench pipeline` reads, and operators)."""
        c = rt.counters
        log.info("rta stats t=%.3f routed=%d applied=%d held=%d released=%d deadletter=%d "
                 "summaries=%d restored=%d reducers=%d", time.time(), c.get("routed", 0),
                 c.get("applied", 0), c.get("held", 0), c.get("released", 0),
                 c.get("deadletter", 0), c.get("summaries", 0), c.get("restored", 0),
                 len(rt.reducers))

    def forget(tps: Any) -> None:
        """Drop in-memory reducers of these partitions: after a rebalance they must
        come back from the recovered table, never from a copy that may be stale."""
        parts = {tp.partition for tp in tps if tp.topic == agent_input.get_topic_name()}
        for akey in [k for k in rt.reducers if rt.partition_of(k) in parts]:
            del rt.reducers[akey]
            rt.due.pop(akey, None)
            rt.refreshing.discard(akey)
            rt.pending.discard(akey)
            rt.outbox.pop(akey, None)
            rt.resend.discard(akey)
            rt.reread.pop(akey, None)

    def purge(tps: Any) -> None:
        """Drop table entries of partitions no longer assigned (memory store only).
        Only those the new assignment leaves out: faust's revocation names every
        partition (an eager rebalance), and recovers those assigned again only from
        the changelog offset it had reached (streams.rebalance)."""
        if not settings.store.startswith("memory"):
            return
        purge_unassigned(app, {directory_topic.get_topic_name(): (directory, held),
                               agent_input.get_topic_name(): (agents,)},
                         tps, rt.partition_of)

    owned: set[Any] = set()  # the partitions of the last assignment

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        rt.ready = False
        forget(revoked)

    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        rt.ready = False
        rt.contig.clear()  # reading starts again at the committed offsets
        rt.input_run.clear()
        rt.held_marks.clear()
        purge(owned - set(assigned))
        owned.clear()
        owned.update(assigned)
        forget(assigned)

    async def _recovered(sender: Any, **kwargs: Any) -> None:
        rt.ready = True  # tables hold every changelog record of the assigned partitions

    sink = None
    if settings.database_url:
        from history.store import HistoryStore
        from streams.history_sink import HistorySink
        from streams.recompute import RecomputeRunner

        sink = HistorySink(settings, HistoryStore(settings.database_url))
        app.service(sink.service())
        app.service(RecomputeRunner(settings, tenants,
                                    HistoryStore(settings.database_url)).service())

    forwarders = []
    if settings.forward_config is not None:  # the WFM forwarder, inside this worker
        from streams.forwarder import Forwarder
        from wfm.config import WfmConfig

        fwd = Forwarder(settings, WfmConfig.load(settings.forward_config))
        forwarders.append(fwd)
        app.service(fwd.service())

    if settings.web_enabled:
        from streams.api_backend import WorkerBackend, api_service

        backend = WorkerBackend(app, rt, settings, tenants, state_in, schedule_in,
                                sessions_topic, agents, agent_input.get_topic_name(), sink,
                                extra_metrics=[f.metrics for f in forwarders])
        app.service(api_service(backend, settings, tenants))

    app.on_partitions_revoked.connect(_revoked)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(_assigned)  # type: ignore[arg-type]
    app.on_rebalance_complete.connect(_recovered)  # type: ignore[arg-type]

    @app.timer(interval=2.0)
    async def restore_assigned() -> None:
        """After a restart or rebalance, bring back the reducers of assigned partitions
        (not only those with new input), so their timers run."""
        if not rt.ready or app.rebalancing or app.in_recovery:
            return  # the table may still be replaying its changelog
        assigned = {tp.partition for tp in app.consumer.assignment()
                    if tp.topic == agent_input.get_topic_name()}
        now = now_ms()
        slice_end = time.perf_counter() + SLICE_SECONDS
        for akey in list(agents.keys()):
            if time.perf_counter() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.perf_counter() + SLICE_SECONDS
                if not rt.ready:
                    return  # a rebalance began meanwhile
            if akey in rt.reducers or rt.partition_of(akey) not in assigned:
                continue
            snap = agents.get(akey)
            if snap is None:
                continue
            tenant = akey.rsplit(":", 1)[0] if ":" in akey else akey
            reducer = reducer_for(akey, tenant)
            rt.schedule_deadline(akey, reducer, now)

    return app
