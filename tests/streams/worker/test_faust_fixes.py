"""faust_fixes without a broker: the message delivery (fix 4, run directly, race
only when blocked) and the stall watch (fix 7)."""

from __future__ import annotations

import asyncio
from typing import Any

import mode
import pytest

from streams.worker.faust_fixes import StallWatch, _deliver


class Consumer(mode.Service):
    """A real mode service, as faust's consumer is, with its suspend_flow event."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


async def put(queue: asyncio.Queue[Any], value: Any, log: list[Any]) -> str:
    await queue.put(value)
    log.append(value)
    return "done"


def test_delivery_that_does_not_block_runs_inline() -> None:
    async def main() -> None:
        consumer = Consumer()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        log: list[Any] = []
        tasks_before = len(asyncio.all_tasks())
        await _deliver(consumer, put(queue, 1, log))
        assert log == [1] and queue.get_nowait() == 1
        assert len(asyncio.all_tasks()) == tasks_before

    asyncio.run(main())


async def blocked_delivery(value: Any) -> tuple[Consumer, asyncio.Queue[Any], list[Any],
                                                 asyncio.Task[None]]:
    """A delivery of ``value`` started on a full queue (holding "first")."""
    consumer = Consumer()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
    queue.put_nowait("first")
    log: list[Any] = []
    delivery = asyncio.create_task(_deliver(consumer, put(queue, value, log)))
    await asyncio.sleep(0.01)
    assert not delivery.done() and log == []  # blocked on the full queue
    return consumer, queue, log, delivery


def test_delivery_that_blocks_finishes_once_unblocked() -> None:
    async def main() -> None:
        _, queue, log, delivery = await blocked_delivery(2)
        assert queue.get_nowait() == "first"
        await asyncio.wait_for(delivery, 1)
        assert log == [2] and queue.get_nowait() == 2

    asyncio.run(main())


def test_blocked_delivery_gives_way_to_a_flow_suspension() -> None:
    async def main() -> None:
        consumer, queue, log, delivery = await blocked_delivery(3)
        consumer.suspend_flow.set()  # a rebalance: faust re-reads the message later
        await asyncio.wait_for(delivery, 1)
        await asyncio.sleep(0.01)
        assert log == [] and queue.qsize() == 1  # not delivered, not stuck

    asyncio.run(main())


def test_errors_of_a_blocked_delivery_reach_the_caller() -> None:
    async def fails_after_wait(event: asyncio.Event) -> None:
        await event.wait()
        raise ValueError("bad message")

    async def main() -> None:
        consumer = Consumer()
        event = asyncio.Event()
        delivery = asyncio.create_task(_deliver(consumer, fails_after_wait(event)))
        await asyncio.sleep(0.01)
        event.set()
        with pytest.raises(ValueError, match="bad message"):
            await asyncio.wait_for(delivery, 1)

    asyncio.run(main())


def test_a_partition_standing_still_with_records_left_is_stuck_after_the_limit() -> None:
    watch = StallWatch(limit=30, period=2)
    stuck = []
    for t in range(0, 40, 2):
        stuck = watch.check(float(t), True, {"a": (34, 34, 120), "b": (7, 7, 7)})
        if t < 30:
            assert stuck == [], t
    # "b" has read everything: idle, not stuck
    assert stuck == ["a"]


def test_progress_or_a_rebalance_starts_the_count_again() -> None:
    watch = StallWatch(limit=30, period=2)
    for t in range(0, 28, 2):
        assert watch.check(float(t), True, {"a": (34, 34, 120)}) == []
    assert watch.check(28.0, True, {"a": (34, 40, 120)}) == []  # fetched more
    for t in range(30, 58, 2):
        assert watch.check(float(t), True, {"a": (34, 40, 120)}) == [], t
    assert watch.check(58.0, True, {"a": (34, 40, 120)}) == ["a"]
    assert watch.check(60.0, False, {}) == []  # rebalancing: nothing is known
    assert watch.check(62.0, True, {"a": (34, 40, 120)}) == []
    assert watch.check(91.0, True, {"a": (34, 40, 120)}) == []  # 9 s gap: frozen
    assert watch.check(93.0, True, {"a": (34, 40, 120)}) == []


@pytest.mark.parametrize("seed", range(20))
def test_the_watch_names_exactly_the_partitions_behind_and_unmoved_for_the_limit(
        seed: int) -> None:
    import random
    rng = random.Random(seed)
    watch = StallWatch(limit=10, period=1)
    committed, position, end = 0, 0, 0
    since = None  # when the partition last moved or fell behind (the model)
    t = 0.0
    named = 0
    for _ in range(500):
        t += rng.choice([1.0, 1.0, 1.0, 1.5])
        end += rng.choice([0, 0, 0, 1, 5]) if rng.random() < 0.5 else 0
        before = (committed, position)
        if rng.random() < 0.1:
            position = min(end, position + rng.randint(1, 5))
        if rng.random() < 0.05:
            committed = position
        if committed >= end:
            since = None
        elif since is None or (committed, position) != before:
            since = t
        stuck = watch.check(t, True, {"p": (committed, position, end)})
        want = since is not None and t - since >= 10
        assert (stuck == ["p"]) == want, (seed, t)
        named += want
    assert named  # the generator does make partitions stand still
