"""What a worker does when the group's assignment changes: its reducers of the
partitions involved are forgotten (restored from the recovered table), and a memory
store drops the entries of partitions that left (faust 0.15.3)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from faust.types import TP

from streams.worker.context import Worker

log = logging.getLogger("rta.worker")


def purge_unassigned(app: Any, tables_by_topic: Mapping[str, tuple[Any, ...]],
                     tps: Iterable[Any], partition_of: Callable[[str], int]) -> int:
    """Drop the entries of these (no longer assigned) partitions from memory-store
    tables, and make faust recover those partitions from the start of their changelogs
    if they are assigned here again. Returns how many entries were dropped.

    ``tables_by_topic``: input topic name -> the tables co-partitioned with it.

    faust keeps a memory table's entries after their partition leaves (it only tracks
    keys read during recovery), and a stale directory entry would send an identity's
    events to its previous agent. But faust recovers a partition assigned again only
    from the changelog offset it had reached (``Recovery.active_offsets``), and it
    forgets that offset only when its rebalance bookkeeping runs to the end: a
    rebalance superseded by the next one ("rebalance again" in its log) returns
    early and keeps it. Entries purged then were gone for good (found by
    tests/streams/worker/test_randomized.py: a directory entry lost after a SIGSTOP and two
    restarts, so 258 events of one identity were held for ever). So the offsets go
    with the entries: a partition that comes back is read from its changelog's
    start."""
    recovery = app.tables.recovery
    dropped = 0
    tps = list(tps)
    for topic, tables in tables_by_topic.items():
        parts = {tp.partition for tp in tps if tp.topic == topic}
        if not parts:
            continue
        for table in tables:
            for key in [k for k in table.data if partition_of(k) in parts]:
                del table.data[key]
                dropped += 1
            changelog = table.changelog_topic.get_topic_name()
            for part in parts:
                tp = TP(changelog, part)
                recovery.active_offsets.pop(tp, None)
                recovery.standby_offsets.pop(tp, None)
                recovery.active_highwaters.pop(tp, None)
                recovery.standby_highwaters.pop(tp, None)
    return dropped


def forget(w: Worker, tps: Any) -> None:
    """Drop in-memory reducers of these partitions: after a rebalance they must
    come back from the recovered table, never from a copy that may be stale."""
    rt = w.rt
    parts = {tp.partition for tp in tps if tp.topic == w.agent_input.get_topic_name()}
    for akey in [k for k in rt.reducers if rt.partition_of(k) in parts]:
        del rt.reducers[akey]
        rt.due.pop(akey, None)
        rt.refreshing.discard(akey)
        rt.pending.discard(akey)
        rt.outbox.pop(akey, None)
        rt.resend.discard(akey)
        rt.reread.pop(akey, None)


def purge(w: Worker, tps: Any) -> None:
    """Drop table entries of partitions no longer assigned (memory store only).
    Only those the new assignment leaves out: faust's revocation names every
    partition (an eager rebalance), and recovers those assigned again only from
    the changelog offset it had reached (``purge_unassigned``)."""
    if not w.settings.store.startswith("memory"):
        return
    purge_unassigned(w.app, {w.directory_topic.get_topic_name(): (w.directory, w.held),
                             w.agent_input.get_topic_name(): (w.agents,)},
                     tps, w.rt.partition_of)


def connect(w: Worker) -> None:
    """Follow the group's rebalances: revoked, assigned, recovered."""
    rt = w.rt
    owned: set[Any] = set()  # the partitions of the last assignment

    async def revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        if rt.ready:
            rt.unready_since = time.monotonic()
        rt.ready = False
        forget(w, revoked)

    async def assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        if rt.ready:
            rt.unready_since = time.monotonic()
        rt.ready = False
        rt.assigned_at = time.monotonic()
        mine = {tp.partition for tp in assigned
                if tp.topic == w.agent_input.get_topic_name()}
        log.info("partitions assigned: agent-input %s (generation %s)", sorted(mine),
                 w.app.consumer_generation_id)
        for akey in [k for k in rt.snapshot_bytes if rt.partition_of(k) not in mine]:
            del rt.snapshot_bytes[akey]
        rt.contig.clear()  # reading starts again at the committed offsets
        rt.input_order.clear()
        rt.dir_order.clear()
        rt.swept.clear()
        purge(w, owned - set(assigned))
        owned.clear()
        owned.update(assigned)
        forget(w, assigned)

    async def recovered(sender: Any, **kwargs: Any) -> None:
        rt.ready = True  # tables hold every changelog record of the assigned partitions
        if rt.assigned_at is not None:  # rta_recovery_seconds
            rt.recovery_seconds = time.monotonic() - rt.assigned_at
            rt.assigned_at = None
            log.info("tables recovered in %.2f s after the assignment",
                     rt.recovery_seconds)

    w.app.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]
    w.app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]
    w.app.on_rebalance_complete.connect(recovered)  # type: ignore[arg-type]
