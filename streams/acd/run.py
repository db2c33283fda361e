"""`rta connect SOURCE`: an ACD connector as a process of its own, with /metrics and /livez.

SIGTERM or Ctrl-C: the step in hand is published and checkpointed, then the
connector stops (exit 0)."""

from __future__ import annotations

import asyncio

from streams.acd.config import ConnectorConfig
from streams.acd.connector import Connector
from streams.metrics import serve_side
from streams.process import run_side
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
    return run_side("rta connect", settings.log_level,
                    lambda stop: serve_connector(settings, config, web_port, stop),
                    settings.log_format)
