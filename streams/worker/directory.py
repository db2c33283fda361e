"""The directory: which agent each ACD identity belongs to, and the events of
identities not known yet (held). The only writer of the ``directory`` and ``held``
tables: an identity's directory updates and held events share one partition of the
directory topic, so they are handled in order whatever the timing between the two
input topics."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from rta.engine import bound_hold, hold_overflow_reason
from rta.outputs import Rejected
from streams.codec import agent_key, identity_key, state_json
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

    gen = w.generation()
    for event in events:
        if w.stale(event, gen):
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
                                        []).extend(w.state_item(tenant, owner, e)[1]
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
                    futures.append(await w.reject(event.message.key, Rejected(
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
                    w.state_item(tenant, agent, x[2])[1]
                    for x in sorted(items, key=lambda x: x[1]))
                rt.count("released", len(items))
                log.info("releasing %d held events of %s to agent %s", len(items),
                         ikey, agent)
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
    rt.mark_upstream(events)
