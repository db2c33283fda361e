"""Fixes for faust-streaming 0.15.3 that the worker depends on.

1. Acks of skipped events. During a rebalance faust stops the flow and bumps
   the consumer generation. Events already fetched into a stream's queue are
   then *skipped* — and ``Stream.__aiter__`` acks skipped events ("otherwise
   the lag would increase"). The commit that follows can then move the
   committed offset past events no agent ever processed, and after the
   rebalance the partition resumes behind them: they are lost. The fix: the
   consumer refuses to ack a message fetched in an older generation, or while
   the flow is stopped. The message stays unacked, faust seeks every assigned
   partition back to its committed offset after the rebalance, and the event
   is processed again — which every step here tolerates (idempotent).

2. Offsets skipped by a fetch. faust's fetch loop treats a forward jump in a
   partition's offsets as a "gap" (compaction, transaction markers) and acks
   the offsets in between. Here such jumps also came right after a takeover
   (Tansu, rta.agent-state: offsets 1117..1192 after a seek to 1116), which
   would drop real events. The fix: on a jump, seek back and fetch again; only
   the same jump seen twice is accepted as a real gap.
   The reverse also happens: after a takeover, faust resumed fetching a
   partition before seeking it to its committed offset (faust #216), read
   ahead (offsets 302..565, skipped by the stream during the rebalance), then
   dropped the same offsets fetched again after the seek as "already read".
   Records fetched again after a seek back are now delivered (reprocessing is
   idempotent). A jump is measured from the next offset the partition must
   deliver: where reading started (fix 6's record) until something is delivered,
   a seek's target, else the one after the last delivered. faust's read offset
   is one short after a seek and unknown at the start of a partition never
   committed: a takeover delivered offsets 266.. of a partition before 0..265
   (fetched before the seek to the committed offset), so an identity's events
   went to the hold before the schedule naming it was read, and an agent's
   schedule was applied after a later one of its own.

3. Records lost between the fetch and the streams. After a takeover, records
   were seen fetched (the fetch position past them) that no stream processed
   or acked, with nothing of the partition left in any queue: faust then
   neither re-reads them nor commits past them, and the partition stalls with
   those events unprocessed. (Nearby, faust's "gap" logic acked such offsets
   outright: it no longer acks anything unprocessed.) ``heal`` finds a
   partition whose fetch position is past an offset that is neither acked nor
   in flight, unchanged over two checks, and seeks it back to that offset.

4. Per-message cost. faust's fetch loop hands every message to the topic
   queues through ``Service.wait_first(callback(message), suspend_flow)``:
   four new tasks and an ``asyncio.wait`` per message, whether or not the
   delivery would block. The loop here first runs the delivery directly; only
   a delivery that would block (flow control, a full producer buffer or stream
   queue) is finished as a task raced against a flow suspension, as before.

5. ``fetch_max_wait_ms`` is hard-coded to 1500 in faust's aiokafka driver.
   A broker that does not answer a waiting fetch early (Tansu) then adds up
   to 1.5 s to every live event; the worker sets its own value.

6. Commits past unprocessed offsets. faust commits the first run of
   consecutive acked offsets, guarding against a hole at its head only with
   ``min(acked) - committed > 1`` (one offset short: a single unprocessed
   offset right at the committed one is committed past), and not at all when
   the committed offset is 0 or unknown (a partition its group never
   committed, such as one taken over from a worker killed before its first
   commit). On Apache Kafka's failover test this lost 13 routed events of one
   agent (offsets skipped during the takeover's rebalance, never acked, then
   committed past). The fix: a partition's commit starts where its reading
   started (the committed offset, or the log start when there is none,
   recorded at each assignment) and never skips an offset. The topics the
   worker consumes with acks are neither compacted nor transactional, so their
   offsets have no holes of their own.

7. Partitions that stop. Rarely (twice in about 200 randomized runs with kills
   on Apache Kafka), a partition seeked back by fix 2 or 3 during rebalances in
   quick succession delivered nothing more, with records left to read, until the
   next rebalance minutes later. ``StallWatch`` finds such a partition (committed
   offset and fetch position unchanged for ``RTA_RECOVERY_STALL_SECONDS`` with
   records past them) and the worker stops, naming it and what faust and aiokafka
   hold about it; restarted, it reads on from the committed offsets.

They reach into private names of faust-streaming, so they are pinned to the
one version they were written and tested against: ``apply`` refuses any other.
For experiments (which fix does a broker need?), ``RTA_FAUST_FIXES_OFF`` turns
named fixes off: a comma-separated list of ``ack``, ``gap``, ``heal``,
``drain``, ``fetch-wait``, ``commit``. Never in production.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Generator
from typing import Any

import faust
import faust.transport.drivers.aiokafka as driver
from faust.transport.consumer import Consumer

log = logging.getLogger("rta.worker")

FAUST_VERSION = "0.15.3"  # the only version these fixes are for (pyproject pins it)
FIXES = ("ack", "gap", "heal", "drain", "fetch-wait", "commit")

_applied = False
refused = 0  # acks refused by fix 1 (diagnostics)
fetch_max_wait_ms = 100
disabled: frozenset[str] = frozenset()


class FaustVersionError(RuntimeError):
    pass


def check_version(version: str = faust.__version__) -> None:
    if version != FAUST_VERSION:
        raise FaustVersionError(
            f"faust-streaming {version} is installed, but the worker's fixes to faust "
            f"(streams/worker/faust_fixes.py) reach into private internals of faust-streaming "
            f"{FAUST_VERSION} and were tested with that version only: install "
            f"faust-streaming=={FAUST_VERSION} (as pyproject.toml pins it)")


def disabled_fixes(value: str | None = None) -> frozenset[str]:
    """The fixes ``RTA_FAUST_FIXES_OFF`` turns off (experiments only)."""
    raw = os.environ.get("RTA_FAUST_FIXES_OFF", "") if value is None else value
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - set(FIXES))
    if unknown:
        raise ValueError(f"RTA_FAUST_FIXES_OFF: unknown fix {', '.join(unknown)} "
                         f"(known: {', '.join(FIXES)})")
    return names


def apply(max_wait_ms: int) -> None:
    global _applied, fetch_max_wait_ms, disabled
    check_version()
    fetch_max_wait_ms = max_wait_ms
    if _applied:
        return
    disabled = disabled_fixes()
    if disabled:
        log.warning("faust fixes turned off (RTA_FAUST_FIXES_OFF): %s", ", ".join(sorted(disabled)))
    if "ack" not in disabled:
        _fix_acks()
    if "gap" not in disabled:
        _fix_gaps()
    if "fetch-wait" not in disabled:
        _fix_fetch_wait()
    if "drain" not in disabled:
        Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    if "commit" not in disabled:
        _fix_commits()
    _applied = True


def _fix_commits() -> None:
    original_seek = Consumer.perform_seek

    async def perform_seek(self: Any) -> None:
        """faust's seek to the committed offsets (at each assignment), then the offset
        each assigned partition's reading starts at: its committed offset (faust keeps
        0 as None), else the log start (auto_offset_reset=earliest)."""
        # (fix 2: no order check from the starts until they are known again)
        self._rta_starts_known = False
        self.__dict__.setdefault("_rta_next", {}).clear()
        await original_seek(self)
        self._rta_next.clear()
        # the committed offsets as the seek left them, before anything is fetched
        committed_at = {tp: self._read_offset.get(tp) for tp in self.assignment()}
        earliest = await self.earliest_offsets(*committed_at) if committed_at else {}
        starts = {}
        for tp, committed in committed_at.items():
            first = earliest.get(tp)
            # a committed offset older than the log start (retention) is reset there
            starts[tp] = first if committed is None else max(committed, first or 0)
        self._rta_start = starts
        self._rta_starts_known = True

    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]


def start_offset(consumer: Any, tp: Any) -> int | None:
    """Where committing ``tp`` must go on from: faust's committed offset, else where
    reading started at the last assignment (fix 6)."""
    committed = consumer._committed_offset.get(tp)
    start = getattr(consumer, "_rta_start", {}).get(tp)
    if committed and (start is None or committed >= start):
        return int(committed)
    return None if start is None else int(start)


def _new_offset(self: Any, tp: Any) -> int | None:
    """The offset to commit for ``tp``: past the run of acked offsets that starts
    exactly at the start offset, or None (fix 6; replaces faust's, whose gap
    intervals fix 2 never fills)."""
    acked = self._acked[tp]
    if not acked:
        return None
    acked.sort()
    start = start_offset(self, tp)
    if start is not None and acked[0] < start:
        # second copies of offsets already committed (acked again while a commit
        # was in flight): done, drop them
        below = [o for o in acked if o < start]
        del acked[:len(below)]
        self._acked_index[tp].difference_update(below)
        if not acked:
            return None
    if acked[0] != start:
        return None  # offsets before the first acked one are not processed yet
    end = 1
    while end < len(acked) and acked[end] == acked[end - 1] + 1:
        end += 1
    batch = acked[:end]
    del acked[:end]
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1


def _fix_acks() -> None:
    original_ack = Consumer.ack

    def ack(self: Any, message: Any) -> bool:
        global refused
        app = self.app
        generation = getattr(message, "generation_id", None)
        if (generation is not None and generation != app.consumer_generation_id) \
                or not app.flow_control.is_active():
            refused += 1
            # forget it (it is fetched again after the seek): faust must not wait
            # for its ack before finishing the rebalance
            self._unacked_messages.discard(message)
            return False
        if original_ack(self, message):
            return True
        # refused by faust itself (a second copy of an offset already acked or
        # committed, as re-reading delivers): nothing to wait for
        self._unacked_messages.discard(message)
        return False

    Consumer.ack = ack  # type: ignore[method-assign]


def _fix_gaps() -> None:
    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        # never ack offsets nobody processed (see fix 2)
        log.warning("offsets %s..%s of %s were skipped by the fetch; not acked", offset_from,
                    offset_to - 1, tp)

    Consumer._add_gap = _add_gap  # type: ignore[method-assign]

    original_getmany = Consumer.getmany
    original_seek = Consumer.seek

    async def seek(self: Any, partition: Any, offset: int) -> None:
        await original_seek(self, partition, offset)
        self.__dict__.setdefault("_rta_next", {})[partition] = offset

    Consumer.seek = seek  # type: ignore[method-assign]

    async def getmany(self: Any, timeout: float) -> Any:
        jumped: set[Any] = set()
        seen = self.__dict__.setdefault("_rta_jumps", {})
        # the next offset each partition must deliver: where reading started (fix 6's
        # record), a seek's target, or the one after the last delivered. faust checks a
        # jump against its read offset only, which after a seek is the next offset to
        # read (one short) and is unknown at the start of a partition never committed:
        # after a takeover it delivered offsets 266.. of a partition before 0..265
        # (records fetched before the seek to the committed offset), and a schedule
        # after a later one of the same agent (the randomized test, seeds 1 and 3)
        nxt = self.__dict__.setdefault("_rta_next", {})
        starts = getattr(self, "_rta_start", {}) if getattr(self, "_rta_starts_known", False) \
            else {}
        async for tp, message in original_getmany(self, timeout):
            if tp in jumped:
                continue  # fetched again after the seek below
            last = self._read_offset.get(tp)
            expected = nxt.get(tp, starts.get(tp))
            if expected is not None and message.offset > expected \
                    and self.app.topics.acks_enabled_for(message.topic) \
                    and seen.get(tp) != (expected, message.offset):
                # faust would deliver past them, or mark them as a "gap" (acked): read
                # them first (only the same jump seen twice is a real one: compaction,
                # transaction markers)
                seen[tp] = (expected, message.offset)
                jumped.add(tp)
                log.warning("offsets %s..%s of %s were not delivered in order (rebalance); "
                            "fetching them again", expected, message.offset - 1, tp)
                await self.seek(tp, expected)
                continue
            nxt[tp] = message.offset + 1
            if last is not None and message.offset < last:
                # fetched again after a seek back (to the committed offset after a
                # rebalance): faust would drop it as "already read", yet the stream may
                # have skipped it the first time (flow stopped, stale generation)
                self._read_offset[tp] = message.offset
            yield tp, message

    Consumer.getmany = getmany  # type: ignore[method-assign]


def _fix_fetch_wait() -> None:
    original_create = driver.AIOKafkaConsumerThread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original_create(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


_suspects: dict[Any, tuple[int, int]] = {}


async def heal(app: Any) -> list[tuple[Any, int]]:
    """Seek back partitions with fetched records that were lost (fix 3); returns them.

    Call it periodically. A partition is healed when, twice in a row with nothing
    changed, its fetch position is past an offset that is not acked, no fetched
    message of it awaits an ack, and the stream queues are empty. Re-reading is
    safe: every step of the worker is idempotent."""
    consumer = app.consumer
    if "heal" in disabled:
        return []
    if app.rebalancing or not app.flow_control.is_active():
        _suspects.clear()
        return []
    if any(ch.queue.qsize() for ch in list(app.topics._topics)
           if getattr(ch, "queue", None) is not None):
        return []
    try:
        assignment = consumer._thread._consumer._subscription.subscription.assignment
    except AttributeError:
        return []
    unacked = {m.tp for m in list(consumer._unacked_messages)}
    healed = []
    for tp in list(consumer.assignment()):
        if not app.topics.acks_enabled_for(tp.topic) or tp in unacked:
            _suspects.pop(tp, None)
            continue
        committed = start_offset(consumer, tp) if "commit" not in disabled \
            else consumer._committed_offset.get(tp)
        try:
            position = assignment.state_value(tp).position
        except Exception:
            position = None
        if committed is None or position is None:
            continue
        acked = consumer._acked_index.get(tp) or set()
        hole = next((o for o in range(committed, position) if o not in acked), None)
        if hole is None:
            _suspects.pop(tp, None)
            continue
        if _suspects.get(tp) != (hole, position):
            _suspects[tp] = (hole, position)
            continue
        del _suspects[tp]
        log.warning("offsets %s..%s of %s were fetched but never processed; reading them "
                    "again", hole, position - 1, tp)
        await consumer.seek(tp, hole)
        healed.append((tp, hole))
    return healed


class StallWatch:
    """Partitions whose reading stands still with records left to read (fix 7).

    Seen twice in about 200 randomized runs on Apache Kafka, each time right after a
    seek back (fix 2 or 3) during rebalances in quick succession: a partition with
    records past its position delivered nothing more (no fetch, no error) until the
    next rebalance, minutes later. Every step of the worker is idempotent, so the
    remedy is a restart from the committed offsets: ``check`` names the partitions
    whose committed offset and fetch position have both stayed put for ``limit``
    seconds while the log holds records past them, with the worker settled (not
    rebalancing, tables recovered). A gap between two checks longer than a few of
    their periods means the process stood still (SIGSTOP, a suspended VM): nothing
    is known of that time, so the count starts again."""

    def __init__(self, limit: float, period: float) -> None:
        self.limit, self.period = limit, period
        self.since: dict[Any, tuple[int, int, float]] = {}  # tp -> committed, position, since
        self.last: float | None = None

    def check(self, now: float, settled: bool,
              partitions: dict[Any, tuple[int | None, int | None, int | None]]) -> list[Any]:
        """``partitions``: tp -> (committed, position, log end). The partitions stuck."""
        frozen = self.last is not None and now - self.last > 4 * self.period
        self.last = now
        if frozen or not settled:
            self.since.clear()
            return []
        stuck = []
        for tp in [tp for tp in self.since if tp not in partitions]:
            del self.since[tp]
        for tp, (committed, position, end) in partitions.items():
            if committed is None or position is None or end is None or committed >= end:
                self.since.pop(tp, None)
                continue
            old = self.since.get(tp)
            if old is None or old[:2] != (committed, position):
                self.since[tp] = (committed, position, now)
            elif now - old[2] >= self.limit:
                stuck.append(tp)
        return stuck


def reading_state(app: Any) -> dict[Any, tuple[int | None, int | None, int | None]]:
    """Per assigned partition of an acked topic: (committed, fetch position, log end)."""
    consumer = app.consumer
    try:
        assignment = consumer._thread._consumer._subscription.subscription.assignment
    except AttributeError:
        return {}
    out: dict[Any, tuple[int | None, int | None, int | None]] = {}
    for tp in list(consumer.assignment()):
        if not app.topics.acks_enabled_for(tp.topic):
            continue
        try:
            position = assignment.state_value(tp).position
        except Exception:
            position = None
        try:
            end = consumer.highwater(tp)
        except Exception:
            end = None
        committed = start_offset(consumer, tp) if "commit" not in disabled \
            else consumer._committed_offset.get(tp)
        out[tp] = (committed, position, end)
    return out


def describe_reading(app: Any, tp: Any) -> str:
    """What faust and aiokafka hold about ``tp`` (for the stall's error message)."""
    consumer = app.consumer
    parts = [f"active={tp in (consumer._active_partitions or set())}",
             f"buffered={tp in consumer._buffered_partitions}",
             f"paused={tp in consumer._paused_partitions}",
             f"read_offset={consumer._read_offset.get(tp)}",
             f"next={getattr(consumer, '_rta_next', {}).get(tp)}",
             f"unacked={sum(1 for m in list(consumer._unacked_messages) if m.tp == tp)}"]
    try:
        inner = consumer._thread._consumer
        state = inner._subscription.subscription.assignment.state_value(tp)
        parts += [f"aiokafka_paused={state.paused}",
                  f"fetched_pending={tp in inner._fetcher._records}"]
    except Exception:
        pass
    return " ".join(parts)


class _Resumed:
    """The rest of a coroutine that was started by hand and yielded ``first``.

    Awaiting it (in a task) waits on what the coroutine waits on and resumes it,
    passing exceptions and cancellation through, until it returns."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self) -> Generator[Any, None, Any]:
        coro, yielded = self.coro, self.first
        while True:
            try:
                yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, or the awaited future's error
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(None)
            except StopIteration as stop:
                return stop.value


async def _deliver(consumer: Any, coro: Coroutine[Any, Any, Any]) -> None:
    """Run a message delivery; if it would block, race the rest against a flow
    suspension, as faust's ``wait_first`` does for every message (fix 4)."""
    try:
        first = coro.send(None)
    except StopIteration:
        return  # delivered without waiting: the usual case
    await consumer.wait_first(_Resumed(coro, first), consumer.suspend_flow.wait())


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover
    """faust 0.15.3 ``Consumer._drain_messages``, delivering with ``_deliver``."""
    from faust.transport.consumer import CONSUMER_FETCHING

    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    num_since_yield = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            await self.sleep(0)  # getmany may be called in a loop never releasing the loop
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        if offset - (r_offset or 0) > 1 and r_offset \
                                and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await _deliver(self, callback(message))
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                     offset, message.key, message.value)
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)
