"""What the engine's plain aiokafka consumers (query views, history sink, recompute
runner, WFM forwarder) share."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from mode import Service


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def stop_reading(task: asyncio.Task[None] | None, consumer: Any) -> None:
    """Cancel a consumer's reading task, wait for it, then stop the consumer."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if consumer is not None:
        await consumer.stop()


def as_service(component: Startable, name: str) -> type[Service]:
    """A faust/mode service class that starts and stops ``component`` with the app."""
    async def on_start(self: Service) -> None:
        await component.start()

    async def on_stop(self: Service) -> None:
        await component.stop()

    return type(name, (Service,), {"on_start": on_start, "on_stop": on_stop})
