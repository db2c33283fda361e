"""faust fixes 6, 1 and 2 (streams/worker/faust_fixes.py): a commit never passes an offset
that was not processed; events a stream skipped in a rebalance are not acked;
offsets skipped by a fetch are not acked as a "gap".

``RTA_FAUST_FIXES_OFF=commit,ack,gap ./scripts/test tests/streams/worker/test_faust_commits.py``
runs these against faust 0.15.3's own code: they fail."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from intervaltree import IntervalTree

from streams.worker import faust_fixes

TP = ("rta.agent-state", 3)


def consumer(committed: int | None, start: int | None, acked: list[int]) -> Any:
    """The bookkeeping ``_new_offset`` reads, as faust keeps it after an assignment
    (``_rta_start``: fix 6's record of where reading started)."""
    c = SimpleNamespace(_acked=defaultdict(list), _acked_index=defaultdict(set),
                        _committed_offset=defaultdict(lambda: None), _gap=defaultdict(IntervalTree),
                        _rta_start={TP: start})
    c._committed_offset[TP] = committed
    c._acked[TP] = list(acked)
    c._acked_index[TP] = set(acked)
    return c


def new_offset(c: Any) -> int | None:
    faust_fixes.apply(100)
    return Consumer._new_offset(c, TP)  # type: ignore[arg-type]


def test_a_hole_right_at_the_committed_offset_is_not_committed_past() -> None:
    # offset 26 was skipped (a rebalance), 27 and 28 processed: faust commits 29
    assert new_offset(consumer(26, 26, [27, 28])) is None


def test_a_partition_never_committed_commits_from_where_reading_started() -> None:
    # taken over from a worker killed before its first commit: reading started at
    # the log start (0); 26..38 were skipped, 39.. processed. faust commits 46
    assert new_offset(consumer(None, 0, [39, 40, 41, 42, 43, 44, 45])) is None
    c = consumer(None, 0, [0, 1, 2, 39, 40])
    assert new_offset(c) == 3  # up to the hole, then nothing more
    assert new_offset(c) is None
    assert c._acked[TP] == [39, 40]


def test_committed_offset_zero_is_not_unknown() -> None:
    # faust keeps a committed offset of 0 as None: the start record says 0
    assert new_offset(consumer(None, 0, [1, 2])) is None
    assert new_offset(consumer(None, 0, [0, 1, 2])) == 3


def test_consecutive_offsets_from_the_committed_one_are_committed() -> None:
    c = consumer(26, 26, [28, 26, 27, 30])
    assert new_offset(c) == 29
    assert c._acked[TP] == [30] and c._acked_index[TP] == {30}


# -- fix 1: no acks of events a stream skipped during a rebalance --------------------

def acking_consumer(generation: int, flowing: bool = True) -> Any:
    app = SimpleNamespace(consumer_generation_id=generation,
                          flow_control=SimpleNamespace(is_active=lambda: flowing),
                          topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    return SimpleNamespace(app=app, _unacked_messages=set(), _committed_offset=defaultdict(
        lambda: None), _acked_index=defaultdict(set), _acked=defaultdict(list), _n_acked=0,
        _waiting_for_ack=None)


class Message:  # hashable, as faust's messages are
    def __init__(self, offset: int, generation: int) -> None:
        self.acked, self.tp, self.topic = False, TP, TP[0]
        self.offset, self.generation_id = offset, generation


def message(offset: int, generation: int) -> Any:
    return Message(offset, generation)


def test_an_event_fetched_before_a_rebalance_is_not_acked() -> None:
    faust_fixes.apply(100)
    c = acking_consumer(generation=5)
    assert Consumer.ack(c, message(10, generation=4)) is False  # type: ignore[arg-type]
    assert c._acked[TP] == []
    assert Consumer.ack(acking_consumer(5, flowing=False), message(10, 5)) is False  # type: ignore[arg-type]
    assert Consumer.ack(c, message(11, generation=5)) is True  # type: ignore[arg-type]
    assert c._acked[TP] == [11]


# -- fix 2: a jump in fetched offsets is not acked as a "gap" ------------------------

async def test_offsets_skipped_by_a_fetch_are_not_acked() -> None:
    faust_fixes.apply(100)
    c = SimpleNamespace(_committed_offset=defaultdict(lambda: None),
                        _gap=defaultdict(IntervalTree))
    await Consumer._add_gap(c, TP, 11, 20)  # type: ignore[arg-type]
    assert not c._gap[TP]


def test_a_second_copy_acked_during_a_commit_does_not_stop_commits() -> None:
    # 9 acked again after the commit to 10 had taken it: dropped, commits go on
    c = consumer(10, 0, [9, 10, 11])
    assert new_offset(c) == 12
    assert c._acked[TP] == [] and c._acked_index[TP] == set()


def fetching_consumer(fetches: list[list[int]], start: int | None) -> Any:
    """What faust's ``getmany`` reads of its consumer, fetching these offsets of one
    partition in turn, with fix 6's record of where reading started."""
    from faust.types import TP as FaustTP

    tp = FaustTP(*TP)
    pending = list(fetches)
    seeks: list[int] = []

    async def wait_next_records(timeout: float) -> Any:
        return ({tp: pending.pop(0)} if pending else {}), None

    async def _seek(partition: Any, offset: int) -> None:
        seeks.append(offset)

    c = SimpleNamespace(
        _wait_next_records=wait_next_records, _seek=_seek, should_stop=False,
        flow_active=True, _buffered_partitions=set(), _read_offset=defaultdict(lambda: None),
        scheduler=SimpleNamespace(iterate=lambda records: ((t, r) for t, rs in records.items()
                                                           for r in rs)),
        _to_message=lambda t, offset: SimpleNamespace(offset=offset, topic=t.topic),
        highwater=lambda t: 100,
        app=SimpleNamespace(consumer_generation_id=1, monitor=SimpleNamespace(
            track_tp_end_offset=lambda t, h: None), topics=SimpleNamespace(
            acks_enabled_for=lambda topic: True)),
        _rta_start={tp: start}, _rta_starts_known=start is not None, seeks=seeks,
        log=SimpleNamespace(dev=lambda *a: None))
    c.seek = lambda partition, offset: Consumer.seek(c, partition, offset)  # (fix 2's)
    return c


def delivered_offsets(c: Any, rounds: int) -> list[int]:
    import asyncio

    faust_fixes.apply(100)

    async def main() -> list[int]:
        out = []
        for _ in range(rounds):
            async for _tp, message in Consumer.getmany(c, 1.0):
                out.append(message.offset)
        return out

    return asyncio.run(main())


def test_a_partition_is_delivered_from_where_reading_started() -> None:
    # after a takeover faust fetched offsets 3.. of a partition whose reading starts at
    # 0 (records fetched before the seek to the committed offset): they wait, the
    # partition is fetched again from 0, and everything comes in order
    c = fetching_consumer([[3, 4], [0, 1, 2, 3, 4], [5]], start=0)
    assert delivered_offsets(c, 3) == [0, 1, 2, 3, 4, 5]
    assert c.seeks == [0]


def test_a_jump_inside_a_partition_is_fetched_again_and_a_real_one_accepted() -> None:
    c = fetching_consumer([[5, 6], [9], [7, 8, 9], [20], [20, 21]], start=5)
    # 7..8 skipped by the fetch: read again; 10..19 missing twice (compaction): a gap
    assert delivered_offsets(c, 5) == [5, 6, 7, 8, 9, 20, 21]
    assert c.seeks == [7, 10]
