"""The forwarder's bookkeeping: order per identity, commits never past an undelivered
record, duplicates once, whatever the interleaving of partitions and servers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.wfm.forward_buffer import ForwardBuffer, Pending

TP0, TP1 = ("rta.agent-state", 0), ("rta.agent-state", 1)


def entry(offset: int, server: str | None, agent: str = "a", n: int = 0,
          arrived: float = 0.0) -> Pending:
    item = None if server is None else {"acdAgentId": agent, "n": n}
    return Pending(offset, server, item, arrived=arrived)


def test_a_batch_takes_the_oldest_records_and_posts_one_request_per_server() -> None:
    buf = ForwardBuffer(100)
    for off, server in enumerate(["1", "1", "2", "1"]):
        buf.add(TP0, entry(off, server, n=off, arrived=off), f"id{off}")
    buf.add(TP1, entry(0, "1", "b", arrived=0.5), "b0")
    batch = buf.next_batch(4)
    assert batch is not None
    # the oldest heads first: partition 0's first four, then partition 1 (full)
    assert [(tp[1], p.offset) for tp, p in batch.entries] == [(0, 0), (0, 1), (0, 2), (0, 3)]
    requests = batch.by_server()
    assert {s: [p.offset for _, p in e] for s, e in requests.items()} == {"1": [0, 1, 3],
                                                                          "2": [2]}
    buf.complete(batch)
    assert buf.commits() == {TP0: 4}
    nxt = buf.next_batch(10)
    assert nxt is not None and [(tp[1], p.offset) for tp, p in nxt.entries] == [(1, 0)]


def test_skips_wait_for_earlier_records_before_the_commit_moves() -> None:
    buf = ForwardBuffer(100)
    buf.add(TP0, entry(0, None), None)  # a skip at the head: done at once
    assert buf.commits() == {TP0: 1}
    buf.add(TP0, entry(1, "1"), "x")
    buf.add(TP0, entry(2, None), None)  # a skip behind an undelivered record
    assert buf.commits() == {}
    batch = buf.next_batch(10)
    assert batch is not None
    buf.complete(batch)
    assert buf.commits() == {TP0: 3}


def test_duplicates_are_skipped_and_max_items_is_kept() -> None:
    buf = ForwardBuffer(100)
    assert buf.add(TP0, entry(0, "1"), "id:e1")
    assert not buf.add(TP0, entry(1, "1"), "id:e1")
    assert buf.size == 1 and buf.queued == 2  # the skip waits behind it, and is counted
    for off in range(2, 7):
        buf.add(TP0, entry(off, "1"), f"id:e{off}")
    batch = buf.next_batch(3)
    assert batch is not None and [p.offset for _, p in batch.entries] == [0, 2, 3]


def test_dropped_partitions_are_forgotten_and_a_late_completion_is_ignored() -> None:
    buf = ForwardBuffer(100)
    buf.add(TP0, entry(0, "1"), "a")
    batch = buf.next_batch(10)
    assert batch is not None
    buf.drop({TP0})
    assert buf.size == 0
    buf.complete(batch)  # in flight during the rebalance: nothing to pop
    assert buf.commits() == {}
    assert buf.add(TP0, entry(0, "1"), "a")  # re-read by the new owner: not a duplicate


record = st.tuples(st.sampled_from([0, 1]), st.sampled_from(["1", "2", None]),
                   st.sampled_from(["a", "b", "c"]), st.integers(0, 5))


@settings(max_examples=300, deadline=None)
@given(st.lists(record, max_size=60), st.integers(1, 7), st.data())
def test_any_interleaving_keeps_order_commits_and_forwards_each_id_once(
        records: list[tuple[int, str | None, str, int]], max_items: int,
        data: st.DataObject) -> None:
    buf = ForwardBuffer(1000)
    offsets = {0: 0, 1: 0}
    expected: dict[tuple[str, str], list[int]] = {}
    seen: set[int] = set()
    sent: dict[tuple[str, str], list[int]] = {}
    delivered: dict[int, set[int]] = {0: set(), 1: set()}
    undelivered: dict[int, set[int]] = {0: set(), 1: set()}
    committed = {0: 0, 1: 0}
    pending = list(records)
    i = 0
    while pending or buf.size:
        if pending and (not buf.size or data.draw(st.booleans())):
            part, server, agent, eid = pending.pop(0)
            off = offsets[part]
            offsets[part] += 1
            tp = ("t", part)
            uid = i
            i += 1
            # identities live in one partition: the agent names the partition
            agent = f"{agent}{part}"
            key = None if server is None else f"id:{eid}-{agent}-{server}"
            fresh = buf.add(tp, Pending(off, server, None if server is None else
                                        {"acdAgentId": agent, "uid": uid}, arrived=uid), key)
            if server is not None and key not in seen:
                seen.add(key or "")
                expected.setdefault((server, agent), []).append(uid)
                undelivered[part].add(off)
                assert fresh
            continue
        batch = buf.next_batch(max_items)
        assert batch is not None and 1 <= len(batch) <= max_items
        for server, requests in batch.by_server().items():  # the posts, in order
            for tp, p in requests:
                assert p.item is not None and p.server == server
                sent.setdefault((server, p.item["acdAgentId"]), []).append(p.item["uid"])
                delivered[tp[1]].add(p.offset)
                undelivered[tp[1]].discard(p.offset)
        buf.complete(batch)
        for tp, off in buf.commits().items():
            assert off >= committed[tp[1]]
            committed[tp[1]] = off
            # nothing below a committed offset is still to deliver
            assert all(u >= off for u in undelivered[tp[1]])
    assert sent == expected
    for tp, off in buf.commits().items():  # skips after the last batch
        committed[tp[1]] = off
    for part in (0, 1):
        assert committed[part] == offsets[part] or offsets[part] == 0
