"""Run one worker process: the checks before it starts, then faust's worker (the
process of `rta worker` and `rta up`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import Any

from rta.config import TenantsConfig
from streams.settings import WorkerSettings


def run_worker(settings: WorkerSettings, tenants: TenantsConfig,
               banner: str | None = None) -> int:
    import faust

    from streams.topics import ensure_topics
    from streams.worker.app import build_app

    if settings.web_enabled and not _port_free(settings.web_bind, settings.web_port):
        print(f"rta: the HTTP port {settings.web_bind}:{settings.web_port} is in use; choose "
              "another with --web-port or RTA_WEB_PORT", file=sys.stderr)
        return 2
    if settings.database_url:
        from streams.history.migrate import NotMigrated, check

        try:
            asyncio.run(check(settings.database_url))
        except NotMigrated as exc:
            print(f"rta: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"rta: cannot reach the history database: {exc}", file=sys.stderr)
            return 2
    if settings.forward_config is not None:
        from streams.wfm.config import WfmConfig, WfmConfigError

        try:
            WfmConfig.load(settings.forward_config)
        except WfmConfigError as exc:
            print(f"rta: RTA_FORWARD_CONFIG: {exc}", file=sys.stderr)
            return 2
    if settings.connect_config is not None:
        from streams.acd.config import ConnectorConfigError, load_any

        try:
            load_any(settings.connect_config)
        except ConnectorConfigError as exc:
            print(f"rta: RTA_CONNECT_CONFIG: {exc}", file=sys.stderr)
            return 2
    created = asyncio.run(ensure_topics(settings))
    if created:
        print(f"created topics: {', '.join(created)}", file=sys.stderr)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from streams.worker.faust_fixes import FaustVersionError

    try:
        app = build_app(settings, tenants)
    except (FaustVersionError, ValueError) as exc:
        print(f"rta: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    if banner:
        text, pending = banner, set[asyncio.Future[None]]()

        @app.on_rebalance_complete.connect
        async def _ready(*args: Any, **kwargs: Any) -> None:
            if settings.web_enabled:  # the API's service starts after the rebalance
                task = asyncio.ensure_future(_print_when_listening(
                    text, settings.web_bind, settings.web_port))
                pending.add(task)
                task.add_done_callback(pending.discard)
            else:
                print(text, flush=True)

    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True,
                          redirect_stdouts=False)
    logging.getLogger("faust").setLevel(logging.WARNING)
    logging.getLogger("mode").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    worker.execute_from_commandline()  # returns when stopped (Ctrl-C, SIGTERM)
    return 0


async def _print_when_listening(text: str, host: str, port: int, timeout: float = 30) -> None:
    """Print ``text`` (the banner: "rta is up", with the API's address) once the
    HTTP API accepts connections, or after ``timeout`` seconds all the same."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
        else:
            writer.close()
            break
    print(text, flush=True)


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def tune_gc() -> None:
    """Fewer cyclic-GC passes: the engine allocates many small, long-lived objects
    (timeline entries, runs) and few cycles, so the default gen-0 threshold (700)
    makes the collector rescan a large heap far too often (~20 % of CPU in
    ``rta bench core``). Reference counting still frees everything promptly."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
