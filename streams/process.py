"""The processes beside the workers (``rta forward``, ``rta connect``): logging to
stderr (text or JSON lines: ``streams.logs``), SIGTERM and Ctrl-C as a stop event, an
OS error as exit status 2."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from streams.logs import LogFormat, configure_logging, say


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (in the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def run_side(command: str, level: str, serve: Callable[[asyncio.Event], Awaitable[None]],
             log_format: LogFormat = "text") -> int:
    """``serve(stop)`` until a signal sets ``stop``: 0, or 2 for an OS error (a port
    in use, a broker that cannot be reached), printed as ``command: error``."""
    configure_logging(level, log_format, command)

    async def main() -> None:
        await serve(stop_event())

    try:
        asyncio.run(main())
    except OSError as exc:
        say(f"{command}: {exc}", logging.ERROR)
        return 2
    return 0
