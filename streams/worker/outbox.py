"""Agents' snapshots and their outbox: a decision is durable before it is visible."""

from __future__ import annotations

from typing import Any

from rta.agent import AgentReducer
from rta.outputs import AlertOut
from streams.codec import encode
from streams.worker.context import Worker


async def save(w: Worker, akey: str, reducer: AgentReducer) -> Any | None:
    """Write the agent's snapshot; returns the changelog delivery future (awaitable).

    A reducer that is no longer ours (its partition was revoked while we awaited)
    is not saved (None): its new owner's state is newer. The snapshot carries the
    alerts decided and not yet delivered (``outbox``) and ``inputThrough``: every
    agent-input record of its partition up to that offset is in it."""
    rt = w.rt
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
    return await w.put(w.agents, akey, snap, rt.partition_of(akey))


async def publish_alerts(w: Worker,
                         decided: list[tuple[str, AgentReducer, list[AlertOut]]]) -> None:
    """Alerts decided for these agents (already in ``rt.outbox`` from the moment
    they were decided, so every snapshot written since carries them): each agent's
    snapshot is saved, then its alerts are sent, then the snapshot is saved again
    without them. A crash in between re-sends them on restore, with the same ids
    and contents; an agent no longer ours sends nothing (its new owner has the
    outbox, or decides again)."""
    rt = w.rt
    gen = w.generation()
    saved = [(await save(w, akey, reducer), akey, reducer, alerts)
             for akey, reducer, alerts in decided]
    await w.delivered([f for f, _, _, _ in saved if f is not None])
    sent, done = [], []
    for fut, akey, reducer, alerts in saved:
        if fut is None or w.generation() != gen or rt.reducers.get(akey) is not reducer:
            continue
        sent += [await w.send(w.alerts_out, key=o.key.encode(), value=encode(o.alert))
                 for o in alerts]
        done.append((akey, reducer, alerts))
    await w.delivered(sent)
    cleared = []
    for akey, reducer, alerts in done:
        left = [o for o in rt.outbox.get(akey, []) if o not in alerts]
        if left:
            rt.outbox[akey] = left
        else:
            rt.outbox.pop(akey, None)
        cleared.append(await save(w, akey, reducer))  # the stored outbox too
    await w.delivered([f for f in cleared if f is not None])
