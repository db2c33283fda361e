"""What the engine's plain aiokafka consumers (query views, history sink, recompute
runner) share."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_reading(task: asyncio.Task[None] | None, consumer: Any) -> None:
    """Cancel a consumer's reading task, wait for it, then stop the consumer."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if consumer is not None:
        await consumer.stop()
