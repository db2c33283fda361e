"""What a worker does with its tables' in-memory entries when the group's assignment
changes (faust 0.15.3, memory store)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from faust.types import TP


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
    tests/streams/test_randomized.py: a directory entry lost after a SIGSTOP and two
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
