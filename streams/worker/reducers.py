"""The reducers: each agent-input record's items applied to their agents' reducers
(the core's ``AgentReducer``), in batches; statuses, alerts (through the outbox),
dead letters and recompute requests out; each touched agent's snapshot saved once per
batch."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from faust.types import TP

from rta.agent import AgentReducer
from rta.models import parse_schedule
from rta.outputs import AlertOut, Output, RecomputeNeeded, Rejected, StatusOut
from rta.schedule import resolve_activities
from streams.codec import agent_key, compact_parts, encode, state_json
from streams.worker import faust_fixes
from streams.worker.context import Worker
from streams.worker.outbox import publish_alerts, save
from streams.worker.runtime import now_ms

log = logging.getLogger("rta.worker")


def reducer_for(w: Worker, akey: str, tenant: str) -> AgentReducer:
    """The agent's reducer: in memory, else restored from its snapshot, else new."""
    rt = w.rt
    reducer = rt.reducers.get(akey)
    if reducer is None:
        snap = w.get(w.agents, akey)
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


async def apply_item(w: Worker, item: dict[str, Any], reducer: AgentReducer, now: int,
                     futures: list[Any]) -> list[Output]:
    """Apply one agent-input item. Inputs are evaluated in event time (a state event
    at its own timestamp, never later than the worker clock ``now``; a schedule or a
    move not at all): what an input decides depends on the log, not on when it was
    read. Only the alert timer evaluates at the worker clock, for agents whose
    input has no backlog (docs/ARCHITECTURE.md, "Time")."""
    rt = w.rt
    kind, tenant = item["k"], item["t"]
    if kind == "s":
        server, acd, state, ts, reason, eid = item["e"][:6]
        pos, chat = compact_parts(item["e"])
        to = None if "mv" in item else reducer.moved_to((server, acd))
        if to is not None:
            # routed here by a directory entry read before the identity moved: on to
            # its agent (which sends it further if it moved again)
            futures += await w.send_items({rt.partition_of(agent_key(tenant, to)): [
                w.state_item(tenant, to, item["e"])[1]]})
            rt.count("rerouted")
            return []
        reducer.add_identity((server, acd))
        return reducer.apply_state((server, acd), ts, state, reason, eid,
                                   min(ts, now), moved="mv" in item, pos=pos, chat=chat)
    if kind == "ad":  # an identity moved here (its events, if any, follow)
        server, acd = item["i"]
        reducer.add_identity((server, acd))
        c = item.get("c")  # the chat figures it had (a move)
        if c is not None:
            reducer.offer_chat((server, acd), (c[0], c[1], c[2], c[3]))
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
        # with its place in the log: one read again (re-routed after a takeover) or
        # out of its log order changes nothing (AgentReducer.apply_schedule)
        place = item.get("p")
        return reducer.apply_schedule(msg.agent_id, msg.acd_agent_id, msg.from_ts,
                                      msg.to_ts, parts, None,
                                      pos=None if place is None else (place[0], place[1]),
                                      team=msg.team, name=msg.agent_name)
    if kind == "m":  # the identity belongs to another agent now: its events follow
        server, acd = item["i"]
        to = item["to"]
        tl = reducer.remove_identity((server, acd), to)
        final = [] if tl is None else reducer.final_days_moved((server, acd), tl, to)
        moved: list[dict[str, Any]] = [{"k": "ad", "t": tenant, "a": to, "i": [server, acd]}]
        if tl is not None and tl.chat is not None:
            moved[0]["c"] = list(tl.chat)
        moved += [{**w.state_item(tenant, to, [server, acd, e.state, e.ts, e.reason,
                                               e.eid or None, e.pos])[1], "mv": 1}
                  for e in (tl.entries if tl is not None else [])]
        if tl is not None and tl.floor is not None:
            # the days before the floor of the agent it leaves cannot be
            # recomputed where it goes: they become final there too (and both
            # agents' final days are recomputed from the history: ``final``)
            moved.append({"k": "fl", "t": tenant, "a": to, "f": tl.floor})
        futures += await w.send_items({rt.partition_of(agent_key(tenant, to)): moved})
        return final
    raise ValueError(f"unknown internal item kind {kind!r}")


async def reduce_record(w: Worker, event: Any, now: int, futures: list[Any],
                        statuses: dict[str, StatusOut], touched: dict[str, AgentReducer],
                        alerts: dict[str, list[AlertOut]],
                        stamps: dict[str, list[int]] | None = None) -> None:
    """Apply one agent-input record's items; what it sends is added to ``futures``.
    ``stamps``: per agent, when the routers took the state events applied (the status
    latency; not for records read again)."""
    rt = w.rt
    try:
        items = orjson.loads(event.value)["items"]
    except Exception as exc:
        log.exception("agent input record failed")
        futures.append(await w.to_deadletter(event, f"internal error: {exc!r}"))
        return
    partition = event.message.partition
    rt.processed[partition] = event.message.offset
    if items and items[0].get("k") == "wm":  # a record of marks (send_marks)
        rt.take_marks(partition, event.message.offset, items, faust_fixes.start_offset(
            w.app.consumer, TP(w.agent_input.get_topic_name(), partition)))
        return
    for item in items:
        try:
            akey = agent_key(item["t"], item["a"])
            reducer = reducer_for(w, akey, item["t"])
            touched[akey] = reducer
            outs = await apply_item(w, item, reducer, now, futures)
            reread = event.message.offset <= rt.reread.get(akey, -1)
            if stamps is not None and "r" in item and not reread:
                stamps.setdefault(akey, []).append(item["r"])
            if reread:
                # read again (a restart re-reads from the committed offset): the
                # snapshot already holds its effects, and what it rejected or sent
                # to a recompute then was delivered before that snapshot was saved
                # (a state event before a floor set since would ask again)
                outs = [o for o in outs if not isinstance(o, Rejected | RecomputeNeeded)]
        except Exception as exc:
            log.exception("agent input item failed")
            futures.append(await w.to_deadletter(
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
                    o = Rejected(o.reason, state_json(item["t"], item["e"]), o.kind, o.cause)
                futures.append(await w.reject(None, o, w.settings.topic_state))
            elif isinstance(o, RecomputeNeeded):
                futures.append(await w.recompute_needed(o, item))
    rt.count("applied", len(items))


async def reduce_batch(w: Worker, events: list[Any]) -> None:
    """One batch of agent-input records. The broker round trips (outputs, then the
    snapshots) are paid once per batch, and each touched agent's snapshot is written
    once per batch. faust acks a batch's events only after this body has finished
    with it; an item that fails is dead-lettered, never raised."""
    rt = w.rt
    now = now_ms()
    futures: list[Any] = []
    statuses: dict[str, StatusOut] = {}  # the last status per agent is enough
    touched: dict[str, AgentReducer] = {}
    alerts: dict[str, list[AlertOut]] = {}
    stamps: dict[str, list[int]] = {}
    gen = w.generation()
    done = []
    for event in events:
        if not w.stale(event, gen):
            await reduce_record(w, event, now, futures, statuses, touched, alerts, stamps)
            done.append(event.message)
    for st in statuses.values():  # compacted: superseded by the next one
        await w.send(w.status_out, key=st.key.encode(), value=encode(st.status))
        # rta_status_latency_seconds: from the router taking each state event that
        # led to this status to the status handed to the producer
        sent = now_ms()
        for at in stamps.get(st.key, ()):
            rt.status_latency.observe(max(0, sent - at) / 1000)
    await w.delivered(futures)
    # processed, and what they caused delivered: the snapshots saved from now on
    # hold them (``inputThrough``)
    topic_name = w.agent_input.get_topic_name()
    for msg in done:
        rt.input_done(msg.partition, msg.offset, faust_fixes.start_offset(
            w.app.consumer, TP(topic_name, msg.partition)))
    if w.generation() != gen:
        return  # rebalanced meanwhile: these reducers were forgotten (Worker.stale)
    await publish_alerts(w, [(akey, reducer, alerts[akey]) for akey, reducer
                             in touched.items() if akey in alerts])
    saved = [await save(w, akey, reducer) for akey, reducer in touched.items()
             if akey not in alerts]
    await w.delivered([f for f in saved if f is not None])
    for akey, reducer in touched.items():
        rt.pending.add(akey)
        rt.schedule_deadline(akey, reducer, now)
