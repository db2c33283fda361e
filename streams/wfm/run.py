"""`rta forward`: the WFM forwarder as a process of its own, with /metrics and /livez."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from streams.metrics import serve_side
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
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve_forwarder(settings, config, web_port, stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"rta forward: {exc}", file=sys.stderr)
        return 2
    return 0
