"""The message delivery of faust_fixes (fix 4): run directly, race only when blocked."""

from __future__ import annotations

import asyncio
from typing import Any

import mode
import pytest

from streams.faust_fixes import _deliver


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
