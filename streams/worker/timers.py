"""What the worker does by the clock: the routers' marks, alert deadlines and the
refresh of today's summaries, the emission of changed day summaries (and retention),
the re-reading of lost fetches, the restore of assigned agents and a log line of
counters. Each timer gives the event loop back every ``SLICE_SECONDS`` of work."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from typing import Any

from rta.agent import AgentReducer
from rta.outputs import AlertOut, StatusOut
from rta.states import LOGOUT
from streams.codec import encode, fit_summary
from streams.worker import faust_fixes
from streams.worker.context import Worker
from streams.worker.outbox import publish_alerts, save
from streams.worker.reducers import reducer_for
from streams.worker.runtime import LAG_SECONDS, SLICE_SECONDS, now_ms, stop_unacked

log = logging.getLogger("rta.worker")


async def watermarks(w: Worker) -> None:
    """Marks of the input partitions (state and schedule) assigned here: idleness,
    and the periodic re-send that lets a restarted directory step and reducer learn
    the watermark again."""
    rt = w.rt
    if rt.upstream_state is None or w.app.rebalancing:
        return
    sources = {w.state_in.get_topic_name(): "", w.schedule_in.get_topic_name(): "c"}
    progress: dict[Any, str] = {}
    for tp, end, start in rt.upstream_state():
        prefix = sources.get(tp.topic)
        if prefix is not None and end is not None:
            done = rt.upstream.get((tp.topic, tp.partition))
            read = done + 1 if done is not None else start
            source = f"c{tp.partition}" if prefix else tp.partition
            progress[source] = ("empty" if end == 0 else
                                "done" if read >= end else "behind")
    at = time.monotonic()
    force = at - rt.marks_forced >= w.settings.watermark_seconds
    if force:
        rt.marks_forced = at
    await w.send_marks(progress, force)


async def alerts(w: Worker) -> None:
    """Alerts and live status of the agents whose deadline has come (their partition
    caught up), restored outboxes sent again, and the refresh of today's summary of
    logged-in agents."""
    rt = w.rt
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
            # backlog first: asked again in a second (of the clock: a deadline long
            # past, an agent's last evaluated in event time, would else come back
            # in this very turn, a second later each time)
            heapq.heappush(rt.deadlines, (now + 1000, akey))
            rt.due[akey] = now + 1000
            continue
        del rt.due[akey]
        outs = reducer.tick(now)
        fired = [o for o in outs if isinstance(o, AlertOut)]
        if fired:  # saved with the alert state that decided them, then sent
            rt.outbox.setdefault(akey, []).extend(fired)
            decided.append((akey, reducer, fired))
        for o in outs:
            if isinstance(o, StatusOut):
                await w.send(w.status_out, key=o.key.encode(), value=encode(o.status))
        rt.pending.add(akey)
        rt.schedule_deadline(akey, reducer, now)
    if decided:
        await publish_alerts(w, decided)
    period = int(w.settings.refresh_seconds * 1000)
    while rt.refresh and rt.refresh[0][0] <= now:
        when, akey = heapq.heappop(rt.refresh)
        reducer = rt.reducers.get(akey)
        if reducer is None:
            rt.refreshing.discard(akey)
            continue
        if reducer.eff.current[0] != LOGOUT and rt.live_for(akey, reducer, now):
            reducer.changed.add(reducer.ctx.calendar.ordinal(now))
            rt.pending.add(akey)
        heapq.heappush(rt.refresh, (when + period, akey))


async def emit_summaries(w: Worker) -> None:
    """Changed day summaries to ``rta.adherence``; then retention (``prune``) up to
    what the input watermark allows."""
    rt = w.rt
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
        # live: as of the worker clock; catching up on a backlog of past days: as of
        # the end of time (asOf: the agent's last known instant), so a backlog never
        # paints open runs up to the wall clock (days that later events would delete
        # again); see Runtime.live_for
        live = rt.live_for(akey, reducer, now)
        as_of = now if live else None
        before = set(reducer.emitted)
        outs = reducer.build_changed(as_of)
        gone = before - reducer.emitted
        if reducer.emitted != before:
            # which days exist is saved before they are published: after a crash the
            # restored reducer re-emits them, or sends the tombstones they need. A
            # day deleted stays in the saved set until its tombstone is delivered
            # (saved without it first, a crash in between left the day published
            # for good: randomized seed 137, months of logged-in days)
            reducer.emitted |= gone
            fut = await save(w, akey, reducer)
            reducer.emitted -= gone
            if fut is None:
                continue  # revoked meanwhile: the new owner publishes
            await w.delivered([fut])
        sent = []
        for out in outs:
            value = None
            if out.summary is not None:
                value, omitted = fit_summary(
                    {**out.summary, "asOf": now if live else reducer.newest},
                    w.settings.max_message_bytes)
                if omitted:
                    rt.count("summaries_trimmed")
                    log.warning("day summary %s does not fit one record of %d bytes: "
                                "published without the %d runs of its actuals "
                                "(actualsOmitted)", out.key, w.settings.max_message_bytes,
                                omitted)
            sent.append(await w.send(w.adherence_out, key=out.key.encode(), value=value))
            rt.count("summaries")
        if gone:  # the tombstones are on the broker: the days may leave the snapshot
            await w.delivered(sent)
            fut = await save(w, akey, reducer)
            if fut is not None:
                await w.delivered([fut])
        watermark = rt.watermark(rt.partition_of(akey))
        if watermark is not None and reducer.prune(watermark=watermark):
            # the days before the new floor are final and will not be published
            # again, so their last summaries must be on the broker before the
            # snapshot that forgets them
            await w.delivered(sent)
            fut = await save(w, akey, reducer)
            if fut is not None:
                await w.delivered([fut])
                rt.count("pruned")
    rt.emit_passes += 1


async def measure_lag(w: Worker) -> None:
    """``rta_consumer_lag_records``: per topic the worker's steps consume, the records
    between the committed offsets of its assigned partitions and their log ends (one
    end-offsets request every ``LAG_SECONDS``; a partition never committed counts from
    where its reading started). Kept as it was during a rebalance or when the request
    fails."""
    rt, app = w.rt, w.app
    if app.rebalancing or not rt.ready or rt.stopping:
        return
    consumer = app.consumer
    names = w.consumed_topics()
    tps = [tp for tp in consumer.assignment() if tp.topic in names]
    lag = dict.fromkeys(names, 0)
    if tps:
        try:
            ends = await asyncio.wait_for(consumer.highwaters(*tps), LAG_SECONDS)
        except Exception as exc:  # the broker away: the next pass measures again
            log.debug("consumer lag not measured: %r", exc)
            return
        for tp in tps:
            end = ends.get(tp)
            if end is not None:
                start = faust_fixes.start_offset(consumer, tp) or 0
                lag[tp.topic] += max(0, int(end) - start)
    rt.lag = lag


async def heal_fetches(w: Worker) -> None:
    for _ in await faust_fixes.heal(w.app):
        w.rt.count("healed")


async def watch_reading(w: Worker) -> None:
    """Stop the worker when a partition's reading stands still (faust_fixes fix 7)."""
    rt, app = w.rt, w.app
    settled = rt.ready and not app.rebalancing and not app.in_recovery \
        and app.flow_control.is_active()
    stuck = rt.stall.check(time.monotonic(), settled,
                           faust_fixes.reading_state(app) if settled else {})
    if stuck:
        state = faust_fixes.reading_state(app)
        names = "; ".join(f"{tp.topic}[{tp.partition}] committed {state[tp][0]}, "
                          f"position {state[tp][1]}, end {state[tp][2]} "
                          f"({faust_fixes.describe_reading(app, tp)})" for tp in stuck)
        stop_unacked("reading", RuntimeError(
            f"partitions stand still with records left to read for "
            f"{rt.stall.limit:g} s (RTA_RECOVERY_STALL_SECONDS): {names}"))


async def stats(w: Worker) -> None:
    """One log line of counters (what `rta bench pipeline` reads, and operators)."""
    c = w.rt.counters
    log.info("rta stats t=%.3f routed=%d applied=%d held=%d released=%d deadletter=%d "
             "summaries=%d restored=%d reducers=%d", time.time(), c.get("routed", 0),
             c.get("applied", 0), c.get("held", 0), c.get("released", 0),
             c.get("deadletter", 0), c.get("summaries", 0), c.get("restored", 0),
             len(w.rt.reducers))


async def restore_assigned(w: Worker) -> None:
    """After a restart or rebalance, bring back the reducers of assigned partitions
    (not only those with new input), so their timers run."""
    rt, app = w.rt, w.app
    if not rt.ready or app.rebalancing or app.in_recovery:
        stalled = time.monotonic() - rt.unready_since
        if not rt.ready and stalled > w.settings.recovery_stall_seconds:
            # faust 0.15.3's table recovery can hang after rebalances in quick
            # succession ("No event received for active tp ... since recovery start",
            # seen once in about 65 runs of the randomized test): the partitions stay
            # unprocessed for good. Restarted, the worker recovers them afresh.
            stop_unacked("table recovery", RuntimeError(
                f"the tables have not recovered in {stalled:.0f} s "
                f"(RTA_RECOVERY_STALL_SECONDS={w.settings.recovery_stall_seconds:g})"))
        return  # the table may still be replaying its changelog
    assigned = {tp.partition for tp in app.consumer.assignment()
                if tp.topic == w.agent_input.get_topic_name()}
    now = now_ms()
    slice_end = time.perf_counter() + SLICE_SECONDS
    for akey in list(w.agents.keys()):
        if time.perf_counter() > slice_end:
            await asyncio.sleep(0)
            slice_end = time.perf_counter() + SLICE_SECONDS
            if not rt.ready:
                return  # a rebalance began meanwhile
        if akey in rt.reducers or rt.partition_of(akey) not in assigned:
            continue
        snap = w.get(w.agents, akey)
        if snap is None:
            continue
        tenant = akey.rsplit(":", 1)[0] if ":" in akey else akey
        reducer = reducer_for(w, akey, tenant)
        rt.schedule_deadline(akey, reducer, now)
