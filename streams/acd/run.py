"""`rta connect SOURCE`: an ACD connector as a process of its own, with /metrics and /livez.

SIGTERM or Ctrl-C: the step in hand is published and checkpointed, then the
connector stops (exit 0)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from streams.acd.config import ConnectorConfig
from streams.acd.connector import Connector
from streams.metrics import serve_side
from streams.settings import WorkerSettings


async def serve_connector(settings: WorkerSettings, config: ConnectorConfig,
                          web_port: int | None, stop: asyncio.Event) -> None:
    conn = Connector(settings, config)
    await conn.start()
    runner = None
    if web_port:
        runner = await serve_side(settings.web_bind, web_port, conn.metrics, conn.live)
    print(f"rta connect {config.source}: {config.connector.base_url} -> "
          f"{settings.topic_state} as tenant {config.connector.tenant!r}, acdServerId "
          f"{config.connector.acd_server_id!r} (checkpoint {config.checkpoint_key})"
          + (f"; metrics on :{web_port}/metrics" if web_port else ""), flush=True)
    try:
        await stop.wait()
    finally:
        await conn.stop()
        if runner is not None:
            await runner.cleanup()


def run_connect(settings: WorkerSettings, config: ConnectorConfig, web_port: int | None) -> int:
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve_connector(settings, config, web_port, stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"rta connect: {exc}", file=sys.stderr)
        return 2
    return 0
