"""`rta forward`: the WFM forwarder as a process of its own, with /metrics and /livez."""

from __future__ import annotations

import asyncio

from streams.metrics import serve_side
from streams.process import run_side
from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from streams.wfm.config import WfmConfig
from streams.wfm.forwarder import Forwarder


async def serve_forwarder(settings: WorkerSettings, config: WfmConfig, web_port: int | None,
                          stop: asyncio.Event) -> None:
    await ensure_topics(settings)
    fwd = Forwarder(settings, config)
    await fwd.start()
    runner = None
    if web_port:
        runner = await serve_side(
            settings.web_bind, web_port, fwd.metrics,
            lambda: {"live": True, "wfmUp": fwd.wfm_up, "lag": fwd.lag})
    print(f"rta forward: {settings.topic_state} of tenant {config.wfm.tenant!r} -> "
          f"{config.wfm.base_url} (group {fwd.group_id})"
          + (f"; metrics on :{web_port}/metrics" if web_port else ""), flush=True)
    try:
        await stop.wait()
    finally:
        await fwd.stop()
        if runner is not None:
            await runner.cleanup()


def run_forward(settings: WorkerSettings, config: WfmConfig, web_port: int | None) -> int:
    return run_side("rta forward", settings.log_level,
                    lambda stop: serve_forwarder(settings, config, web_port, stop),
                    settings.log_format)
