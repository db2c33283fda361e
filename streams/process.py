"""The processes beside the workers (``rta forward``, ``rta connect``): logging to
stderr, SIGTERM and Ctrl-C as a stop event, an OS error as exit status 2."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # its retries: our warnings


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (in the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def run_side(command: str, level: str, serve: Callable[[asyncio.Event], Awaitable[None]]
             ) -> int:
    """``serve(stop)`` until a signal sets ``stop``: 0, or 2 for an OS error (a port
    in use, a broker that cannot be reached), printed as ``command: error``."""
    configure_logging(level)

    async def main() -> None:
        await serve(stop_event())

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    return 0
