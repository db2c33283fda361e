"""The directory: which agent each ACD identity belongs to, and the events of
identities not known yet (held). The only writer of the ``directory`` and ``held``
tables: an identity's directory updates and held events share one partition of the
directory topic, so they are handled in order whatever the timing between the two
input topics. The rules (hold bounds, adopt, move, release, a mapping read again)
are the core's (``rta.directory``), as in ``rta replay``; this module reads and
writes the tables and sends what they decide."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from faust.types import TP

from rta.directory import hold, hold_overflow_reason, map_identity, release
from rta.outputs import Rejected
from streams.codec import agent_key, identity_key, state_json
from streams.worker import faust_fixes
from streams.worker.context import Worker
from streams.worker.runtime import now_ms

log = logging.getLogger("rta.worker")


async def directory_updates(w: Worker, events: list[Any]) -> None:
    """One batch of the directory topic. Within a batch the directory and the held
    events are read and changed in memory (``dirs``, ``holds``: key -> new value, None
    deletes), then written once per key, after what the batch sent is delivered."""
    rt, settings = w.rt, w.settings
    futures: list[Any] = []
    forwards: dict[int, list[Any]] = {}
    dirs: dict[str, tuple[int, list[Any]]] = {}
    holds: dict[str, tuple[int, list[Any] | None]] = {}
    now = now_ms()

    def entry_of(ikey: str) -> list[Any] | None:
        if ikey in dirs:
            return dirs[ikey][1]
        value = w.get(w.directory, ikey)
        return [value, {}] if isinstance(value, str) else value

    def held_of(ikey: str) -> list[Any]:
        return (holds[ikey][1] if ikey in holds else w.get(w.held, ikey)) or []

    done: list[tuple[int, int, list[Any] | None]] = []  # (partition, offset, marks)
    gen = w.generation()
    for event in events:
        if w.stale(event, gen):
            continue  # not done: a hole that holds the marks after it back
        done.append((event.message.partition, event.message.offset, None))
        try:
            upd = orjson.loads(event.value)
            if "items" in upd:  # the routers' marks (Worker.send_marks)
                done[-1] = (*done[-1][:2], upd["items"])
                continue
            tenant, server, acd = upd["tenant"], upd["server"], upd["acd"]
            ikey = identity_key(tenant, server, acd)
            part = event.message.partition
            entry = entry_of(ikey)
            owner = entry[0] if entry is not None else None
            if upd.get("kind") == "held":
                if owner is not None:  # known by now: straight to the agent
                    forwards.setdefault(rt.partition_of(agent_key(tenant, owner)),
                                        []).extend(w.state_item(tenant, owner, e)[1]
                                                   for _, _, e in upd["events"])
                    log.info("forwarding %d events of %s to agent %s",
                             len(upd["events"]), ikey, owner)
                    continue
                # hold, bounded by count and event-time span (rta.directory.hold):
                # the span bound only once the identity has been unknown here for
                # hold_grace_seconds; a replayed record (at-least-once) adds nothing
                items = list(held_of(ikey))
                ctx = rt.context(tenant)
                for e in hold(items, upd["events"], ctx.settings, now,
                              int(settings.hold_grace_seconds * 1000)):
                    futures.append(await w.reject(event.message.key, Rejected(
                        hold_overflow_reason(ikey, ctx.settings),
                        state_json(tenant, e), cause="hold_overflow"), settings.topic_state))
                holds[ikey] = (part, items)
                rt.count("held", len(upd["events"]))
                log.info("holding %d events of %s (%d held)", len(upd["events"]),
                         ikey, len(items))
                continue
            # the schedule message that names the identity, with its window's start
            # (the latest window's mapping wins, whatever order the schedule
            # partitions are read in) and its place in the schedule topic (one read
            # again changes nothing)
            src = upd.get("src")  # (none: the first format)
            rank = entry[2] if entry is not None and len(entry) > 2 else None
            mapping = map_identity(
                owner, None if rank is None else (rank[0], rank[1]),
                dict(entry[1]) if entry is not None else {}, upd["agent"],
                (upd.get("from", 0), upd["agent"]),
                None if src is None else (src[0], src[1]))
            if mapping.change == "adopt":  # the agent adopts it (its events follow)
                forwards.setdefault(rt.partition_of(agent_key(tenant, upd["agent"])),
                                    []).append({"k": "ad", "t": tenant, "a": upd["agent"],
                                                "i": [server, acd]})
            elif mapping.change == "move" and mapping.previous is not None:
                # the owner hands it over ("m")
                previous = mapping.previous
                forwards.setdefault(rt.partition_of(agent_key(tenant, previous)),
                                    []).append({"k": "m", "t": tenant, "a": previous,
                                                "i": [server, acd], "to": upd["agent"]})
            if mapping.change != "again":
                dirs[ikey] = (part, [mapping.owner, mapping.seen,
                                     None if mapping.rank is None else list(mapping.rank)])
            items = held_of(ikey)
            if items and mapping.owner is not None:
                forwards.setdefault(rt.partition_of(agent_key(tenant, mapping.owner)),
                                    []).extend(w.state_item(tenant, mapping.owner, e)[1]
                                               for e in release(items))
                rt.count("released", len(items))
                log.info("releasing %d held events of %s to agent %s", len(items),
                         ikey, mapping.owner)
                holds[ikey] = (part, None)
        except Exception as exc:
            log.exception("directory update failed")
            futures.append(await w.to_deadletter(event, f"internal error: {exc!r}"))
    futures += await w.send_items(forwards)
    await w.delivered(futures)
    # the table changes go last: a crash before them replays the batch, and
    # so does a rebalance (the partitions' new owners replay it)
    if w.generation() != gen:
        return
    written = [await w.put(w.directory, k, v, part) for k, (part, v) in dirs.items()]
    written += [await w.put(w.held, k, v, part) for k, (part, v) in holds.items()]
    await w.delivered(written)
    # what this batch forwarded is delivered: the marks read in it may pass it on
    topic_name = w.directory_topic.get_topic_name()
    marks: dict[int, dict[str, Any]] = {}
    for part, offset, read in done:
        mark = rt.directory_done(part, offset, faust_fixes.start_offset(
            w.app.consumer, TP(topic_name, part)), read)
        if mark is not None:
            marks[part] = mark
    for mark in marks.values():
        await w.send_directory_mark(mark)
    rt.mark_upstream(events)
