"""The routers: input state events and schedule messages to their agents' partitions
of the agent-input topic, or through the directory topic when the identity is not
known here. Routers only read the directory (one writer per table: ``directory``)."""

from __future__ import annotations

import logging
from typing import Any

from faust.types import TP

from rta.directory import future_rejection
from rta.models import InputError, parse_schedule
from streams.codec import (
    DecodeError,
    agent_key,
    compact_state,
    decode_state,
    encode,
    identity_key,
    load_json,
)
from streams.worker import faust_fixes
from streams.worker.context import Worker
from streams.worker.runtime import now_ms, owner_of

log = logging.getLogger("rta.worker")


async def route_states(w: Worker, events: list[Any]) -> None:
    """One batch of ``rta.agent-state``: each event to its agent (directory hit) or to
    the identity's directory partition ("held"); then the partitions' marks."""
    rt, settings = w.rt, w.settings
    futures: list[Any] = []
    forwards: dict[int, list[Any]] = {}
    holds: dict[str, dict[str, Any]] = {}
    routed: list[tuple[int, int, int]] = []  # (partition, offset, event time)
    now = now_ms()
    gen = w.generation()
    for event in events:
        if w.stale(event, gen):
            continue  # not routed: a hole in the marks (read_state)
        routed.append((event.message.partition, event.message.offset, -1))
        try:
            ev = decode_state(event.value, settings.max_message_bytes)
        except DecodeError as exc:
            futures.append(await w.to_deadletter(event, str(exc), cause="malformed"))
            continue
        try:
            ctx = rt.context(ev.tenant_id)
            too_far = future_rejection(ev, now, ctx.settings)
            routed[-1] = (routed[-1][0], routed[-1][1], ev.timestamp)
            if too_far is not None:
                futures.append(await w.to_deadletter(event, too_far, cause="future"))
                continue
            # with its place in the log: an identity's events can reach its agent
            # out of log order (rta.timeline)
            arrival = event.message.partition * 2**40 + event.message.offset
            compact = compact_state(ev, arrival)
            ikey = identity_key(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)
            owner = owner_of(w.get(w.directory, ikey))
            if owner is not None:
                part, item = w.state_item(ev.tenant_id, owner, compact, now)
                forwards.setdefault(part, []).append(item)
            else:  # unknown here: the identity's directory partition decides
                hold = holds.setdefault(ikey, {
                    "kind": "held", "tenant": ev.tenant_id, "server": ev.acd_server_id,
                    "acd": ev.acd_agent_id, "events": []})
                hold["events"].append([ev.timestamp, arrival, compact])
        except Exception as exc:  # the worker never dies of input
            log.exception("state event failed")
            futures.append(await w.to_deadletter(event, f"internal error: {exc!r}"))
    futures += await w.send_items(forwards)
    for ikey, hold in holds.items():
        futures.append(await w.send(w.directory_topic, key=ikey.encode(), value=encode(hold)))
    await w.delivered(futures)
    # after what it marks: a directory partition sees a state partition's mark after
    # every event held there from before it, and passes it on to the agent-input
    # partitions after every event routed straight to them (delivered above)
    topic_name = w.state_in.get_topic_name()
    for part, offset, ts in routed:
        rt.read_state(part, offset, ts, faust_fixes.start_offset(
            w.app.consumer, TP(topic_name, part)))
    await w.send_marks({part: "behind" for part, _, _ in routed}, force=False)
    rt.mark_upstream(events)
    rt.count("routed", len(events))


async def route_schedules(w: Worker, events: list[Any]) -> None:
    """One batch of ``rta.schedule``: each message to its agent, then the identities it
    names to the directory. Batched like the states: a WFM publishes the schedules of a
    whole centre at once, and one broker round trip per message would cap that at a few
    hundred messages per second."""
    futures: list[Any] = []
    forwards: dict[int, list[Any]] = {}
    dirs: list[tuple[bytes, bytes]] = []
    routed: list[tuple[int, int, int]] = []  # (partition, offset, window start)
    gen = w.generation()
    for event in events:
        if w.stale(event, gen):
            continue  # not routed: a hole in the marks (read_state)
        routed.append((event.message.partition, event.message.offset, -1))
        try:
            body = load_json(event.value, w.settings.max_message_bytes)
            msg = parse_schedule(body)
        except (DecodeError, InputError) as exc:
            futures.append(await w.to_deadletter(event, str(exc), cause="malformed"))
            continue
        routed[-1] = (routed[-1][0], routed[-1][1], msg.from_ts)
        try:
            tenant = msg.tenant_id
            part = w.rt.partition_of(agent_key(tenant, msg.agent_key))
            forwards.setdefault(part, []).append(
                {"k": "sch", "t": tenant, "a": msg.agent_key, "b": body,
                 "p": [event.message.partition, event.message.offset]})
            src = [event.message.partition, event.message.offset]
            dirs.extend((identity_key(tenant, server, acd).encode(), encode(
                {"kind": "dir", "tenant": tenant, "server": server, "acd": acd,
                 "agent": msg.agent_key, "src": src, "from": msg.from_ts}))
                for server, acd in msg.identities)
        except Exception as exc:
            log.exception("schedule message failed")
            futures.append(await w.to_deadletter(event, f"internal error: {exc!r}"))
    # the schedules reach their agents before the directory learns the identities
    # they name: a move the directory then orders (to another agent's partition)
    # comes after every schedule of this batch that names the identity
    futures += await w.send_items(forwards)
    await w.delivered(futures)
    await w.delivered([await w.send(w.directory_topic, key=k, value=v) for k, v in dirs])
    # the schedule partitions' marks (their event time: the windows' starts), after
    # what they mark: the directory passes them on after the mappings before them,
    # so no day is made final while an identity the log names is still on its way
    topic_name = w.schedule_in.get_topic_name()
    for part, offset, ts in routed:
        w.rt.read_state(f"c{part}", offset, ts, faust_fixes.start_offset(
            w.app.consumer, TP(topic_name, part)))
    await w.send_marks({f"c{part}": "behind" for part, _, _ in routed}, force=False)
    w.rt.mark_upstream(events)
