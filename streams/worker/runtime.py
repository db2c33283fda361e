"""What one worker keeps in memory besides the faust tables (reducers, timers,
watermarks, progress), and the guard that stops a worker that stood still."""

from __future__ import annotations

import heapq
import logging
import math
import os
import threading
import time
from types import SimpleNamespace
from typing import Any, NoReturn

from aiokafka.partitioner import DefaultPartitioner

from rta.agent import MAX_TS, AgentReducer, TenantContext
from rta.config import TenantsConfig
from rta.outputs import CAUSES, AlertOut
from streams.metrics import BUCKETS, Buckets
from streams.settings import WorkerSettings
from streams.worker import faust_fixes

log = logging.getLogger("rta.worker")
SLICE_SECONDS = 0.01  # timers yield the event loop after this much work
STALL_CHECK_SECONDS = 2.0  # how often the reading of each partition is checked
HOUR_MS = 3_600_000
NO_BOUND = MAX_TS  # the watermark when every input partition is idle
LAG_SECONDS = 5.0  # how often the consumer lag is measured (one end-offsets request)
LATENCY_BUCKETS = (*BUCKETS, 30.0, 60.0)  # status latency: a backlog takes longer


class _At:
    """A stand-in for faust's current event: only its message partition is read."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition, topic="")


Source = int | str  # a mark's source: a state partition (int), "c<p>" a schedule one,
# "d<p>" a directory partition (what the reducers' watermark is made of)


class InOrder:
    """Per partition of one topic: the offsets processed without a hole from where
    reading started, and the records of marks read past a hole, released once every
    record before them is processed (faust can process records past one it has not
    delivered yet: heal reads those again later; a mark applied at once could make
    days final before their events arrive)."""

    def __init__(self) -> None:
        self.runs: dict[int, list[Any]] = {}  # partition -> [next offset, {done past it}]
        self.held: dict[int, list[tuple[int, list[dict[str, Any]]]]] = {}

    def done(self, partition: int, offset: int, start: int | None,
             marks: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Record ``offset`` is processed (a record of ``marks``, if given): the marks
        that may be applied now, in offset order."""
        if marks is not None:
            self.held.setdefault(partition, []).append((offset, marks))
        run = self.runs.get(partition)
        if run is None:
            run = self.runs[partition] = [offset if start is None else start, set()]
        if offset >= run[0]:
            run[1].add(offset)
            while run[0] in run[1]:
                run[1].discard(run[0])
                run[0] += 1
        held = self.held.get(partition)
        if not held:
            return []
        ready = [h for h in held if h[0] < run[0]]
        if not ready:
            return []
        self.held[partition] = [h for h in held if h[0] >= run[0]]
        return [item for _, items in sorted(ready, key=lambda h: h[0]) for item in items]

    def through(self, partition: int) -> int | None:
        """Every record of ``partition`` up to this offset is processed."""
        run = self.runs.get(partition)
        return None if run is None else run[0] - 1

    def clear(self) -> None:
        self.runs.clear()
        self.held.clear()


def merge_mark(marks: dict[Source, tuple[int, bool]], item: dict[str, Any]) -> None:
    """A source's mark: its newest event time only moves forward; idleness is the
    latest said."""
    old = marks.get(item["s"])
    newest = item["m"] if item["m"] is not None else -1
    if old is not None:
        newest = max(newest, old[0])
    marks[item["s"]] = (newest, bool(item["i"]))


def low_mark(marks: dict[Source, tuple[int, bool]] | None, sources: int
             ) -> tuple[int | None, bool]:
    """The minimum over ``sources`` marks of the newest event time, idle ones left
    out: (None, False) until every source has a mark; (NO_BOUND, True) when all are
    idle."""
    if marks is None or len(marks) < sources:
        return None, False
    live = [newest for newest, idle in marks.values() if not idle]
    return (min(live), False) if live else (NO_BOUND, True)


def owner_of(entry: Any) -> str | None:
    """The agent of a directory entry: ``[agent, {schedule partition: offset}, rank]``
    (``rta.directory.map_identity``; the first format was the agent alone)."""
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
        self.stall = faust_fixes.StallWatch(settings.recovery_stall_seconds,
                                            STALL_CHECK_SECONDS)
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
        # agent-input records processed without a hole since reading started (reset at
        # each assignment; saved in each snapshot as ``inputThrough``), and the marks
        # records waiting for the records before them
        self.input_order = InOrder()
        # restored agents: their snapshot reflects every agent-input record up to this
        # offset, so such a record read again is a re-read (see apply_item)
        self.reread: dict[str, int] = {}
        # the directory step: its records processed in order, and per directory
        # partition the routers' marks (state and schedule partitions) read there; it
        # sends the reducers their minimum as the partition's own mark ("d<p>")
        self.dir_order = InOrder()
        self.dir_marks: dict[int, dict[Source, tuple[int, bool]]] = {}
        self.dir_sent: dict[int, tuple[int | None, bool, float]] = {}
        self.swept: dict[int, int] = {}  # agent-input partition -> watermark last swept
        self.highwater: Any = None  # (partition) -> log end offset, set by build_app
        self.ready = False  # tables recovered since the last rebalance
        self.unready_since = time.monotonic()  # when ``ready`` last became False
        # the routers' inputs (state, schedule, directory topics): last offset done
        self.upstream: dict[tuple[str, int], int] = {}
        self.upstream_state: Any = None  # () -> [(tp, end, start)], set by build_app
        self._upstream_checked: tuple[float, bool] = (-1.0, True)
        # input watermarks (see ``watermark``). Routers: the newest event time read per
        # state partition in this process, when it was read, and the mark last sent
        self.source_max: dict[Source, int] = {}
        self.source_seen: dict[Source, float] = {}
        # input source -> [next offset, newest event time before it, {offset: event
        # time} of records routed past a hole]; reset at each assignment
        self.contig: dict[Source, list[Any]] = {}
        self.marks_sent: dict[Source, tuple[int | None, bool]] = {}  # (hour, idle)
        self.started = time.monotonic()
        self.marks_forced = 0.0  # when every mark was last sent again
        # reducers: per agent-input partition, each directory partition's mark (newest
        # event time, idle)
        self.marks: dict[int, dict[Source, tuple[int, bool]]] = {}
        # SIGTERM (streams/worker/shutdown.py): stopping began; emit passes finished
        self.stopping = False
        self.emit_passes = 0
        # figures for /metrics (docs/ARCHITECTURE.md, "Metrics"), per topic and kind
        self.records_in: dict[str, int] = {}  # records the steps took, per topic
        self.records_out: dict[str, int] = {}  # records sent (Worker.send), per topic
        self.deadletters: dict[str, int] = dict.fromkeys(CAUSES, 0)  # per cause
        self.lag: dict[str, int] = {}  # input topic -> log end - committed (timer)
        # router batch start -> the agent's status sent (LATENCY_BUCKETS)
        self.status_latency = Buckets(LATENCY_BUCKETS)
        self.snapshot_bytes: dict[str, int] = {}  # agent -> its snapshot's bytes
        self.recovery_seconds = math.nan  # the last assignment's table recovery
        self.assigned_at: float | None = None  # when the last assignment came

    def took(self, topic: str, n: int) -> None:
        """A step took ``n`` records of ``topic`` (``rta_records_in_total``)."""
        self.records_in[topic] = self.records_in.get(topic, 0) + n

    def dead_lettered(self, cause: str) -> None:
        self.count("deadletter")
        self.deadletters[cause] = self.deadletters.get(cause, 0) + 1

    def read_state(self, partition: Source, offset: int, ts: int, start: int | None
                   ) -> None:
        """An input record at ``offset`` of a state partition (``partition``) or a
        schedule partition (``"c<p>"``) has been routed, with event time ``ts`` (-1
        for one dead-lettered; a schedule message's is its window's start). The
        source's mark is the newest event time of the records routed without a hole
        from where reading started (``start``): faust can leave fetched records
        unprocessed for a while (they are read again, see faust_fixes.heal), and a
        mark past them would make days final before their events arrive."""
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

    def due_marks(self, progress: dict[Source, str], force: bool) -> list[dict[str, Any]]:
        """The marks to send now of these (assigned) input partitions, each ``empty``
        (nothing was ever written to it), ``done`` (read to its end) or ``behind``. A
        partition's mark is the newest event time read from it in this process; ``i``
        (idle) when it is empty or read to its end, and silent for
        ``watermark_idle_seconds``: then it does not hold the watermark back. (Not an
        empty one at once: a producer may write old events to it later, as one of
        the randomized test's chunked logs did.) A partition with neither (read to
        its end before a restart) has no mark yet, and holds the watermark back until
        it has one. A schedule partition's event time is the start of the windows it
        routed; an empty one is idle at once. Sent when the mark moves by an hour or
        changes idleness, and every ``watermark_seconds`` (``force``)."""
        at = time.monotonic()
        out = []
        for part, where in progress.items():
            newest = self.source_max.get(part)
            silent = at - self.source_seen.get(part, self.started)
            # an empty schedule partition is idle at once: a schedule topic with more
            # partitions than a small centre has agents would otherwise stop all
            # retention for watermark_idle_seconds (a schedule first written there later
            # names identities the way an identity known late does: recompute)
            idle = (where == "empty" and isinstance(part, str)) or (
                where != "behind" and silent >= self.settings.watermark_idle_seconds)
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
        self._take(partition, self.input_order.done(partition, offset, start))

    def _take(self, partition: int, items: list[dict[str, Any]]) -> None:
        if items:
            for item in items:
                self.set_mark(partition, item)
            self.sweep_if_moved(partition)

    def sweep_if_moved(self, partition: int) -> None:
        """Retention follows the watermark also for agents without new input: when the
        watermark on ``partition`` has moved by an hour (or become known), its agents go
        to the emit timer, which prunes what the watermark now allows. (Pruning came
        only after an agent's own changes, so an agent whose input had all been read
        before the watermark was known kept its history, and a schedule correction
        for its old days was applied live instead of through a recompute.)"""
        mark = self.watermark(partition)
        if mark is None:
            return
        last = self.swept.get(partition)
        if last is not None and mark < last + HOUR_MS:
            return
        self.swept[partition] = mark
        self.pending.update(k for k in self.reducers if self.partition_of(k) == partition)

    def take_marks(self, partition: int, offset: int, items: list[dict[str, Any]],
                   start: int | None) -> None:
        """A record of marks (``wm`` items, from the directory step) at ``offset``:
        applied once every record before it is processed. A mark tells that what it
        covers was sent before it, and those records may be among those not
        processed yet (faust reads them again later, see faust_fixes.heal): applied
        at once, the watermark could make their days final before they are
        applied."""
        self._take(partition, self.input_order.done(partition, offset, start, items))

    def input_through(self, partition: int) -> int | None:
        """Every agent-input record of ``partition`` up to this offset is processed."""
        return self.input_order.through(partition)

    def set_mark(self, partition: int, item: dict[str, Any]) -> None:
        merge_mark(self.marks.setdefault(partition, {}), item)

    def watermark(self, partition: int) -> int | None:
        """The input watermark as known on agent-input ``partition``: every input
        partition (state and schedule) has been routed up to this event time, and
        every directory partition has passed on what it received before that (the
        minimum over the directory partitions' marks; see ``directory_done``). None
        until every directory partition has a mark there. Finality
        (``AgentReducer.prune``) never passes the lateness horizon before it."""
        return low_mark(self.marks.get(partition), self.settings.partitions)[0]

    def directory_done(self, partition: int, offset: int, start: int | None,
                       marks: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """The directory step has processed record ``offset`` of its ``partition``
        (a record of the routers' ``marks``, if given) and delivered what it sent:
        the directory partition's own mark to send the reducers now, if any. It is
        the minimum over the input partitions' marks read there (state and schedule
        topics: held events and identity mappings come this way), so the reducers'
        watermark covers what the directory still had to forward. Sent when it
        moves by an hour or changes idleness, and every ``watermark_seconds`` (so a
        restarted reducer learns it again)."""
        items = self.dir_order.done(partition, offset, start, marks)
        if not items:
            return None
        seen = self.dir_marks.setdefault(partition, {})
        for item in items:
            merge_mark(seen, item)
        newest, idle = low_mark(seen, 2 * self.settings.partitions)
        if newest is None:
            return None
        hour = None if idle else newest // HOUR_MS
        at = time.monotonic()
        last = self.dir_sent.get(partition)
        if (last is not None and last[:2] == (hour, idle)
                and at - last[2] < self.settings.watermark_seconds):
            return None
        self.dir_sent[partition] = (hour, idle, at)
        return {"k": "wm", "s": f"d{partition}", "m": None if idle else newest, "i": idle}

    def mark_upstream(self, events: list[Any]) -> None:
        for event in events:
            msg = event.message
            key = (msg.topic, msg.partition)
            if msg.offset > self.upstream.get(key, -1):
                self.upstream[key] = msg.offset

    def live_for(self, akey: str, reducer: AgentReducer, now: int) -> bool:
        """Whether the agent's day summaries are built as of the worker clock ``now``:
        its partition has no backlog, or the agent's latest known instant is today
        (tenant time) already. A partition taking live input is often a few records
        behind when asked; built as of the end of time then, today's summary of an
        agent logged in painted its state to midnight (the demo's 2,000 agents: 442
        of them, the centre's day at 75 % instead of 91 %). Its latest instant today,
        the clock adds nothing past today: no day is painted that later events would
        have to delete (what building a backlog as of the end of time is for)."""
        if self.caught_up(self.partition_of(akey)):
            return True
        newest = reducer.newest
        if newest is None or newest > now:
            return False
        cal = reducer.ctx.calendar
        return cal.ordinal(newest) == cal.ordinal(now)

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
