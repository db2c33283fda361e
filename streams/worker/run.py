"""Run one worker process: the checks before it starts, then faust's worker (the
process of `rta worker` and `rta up`)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from rta.config import TenantsConfig
from streams.logs import Redact, configure_logging, faust_logging_config, say
from streams.settings import WorkerSettings

log = logging.getLogger("rta.worker")


def run_worker(settings: WorkerSettings, tenants: TenantsConfig,
               banner: str | None = None) -> int:
    from streams.topics import TopicsError, ensure_topics
    from streams.worker.app import build_app

    configure_logging(settings.log_level, settings.log_format, "rta worker")

    def fail(text: str) -> int:
        say(f"rta: {text}", logging.ERROR)
        return 2

    if settings.web_enabled and not _port_free(settings.web_bind, settings.web_port):
        return fail(f"the HTTP port {settings.web_bind}:{settings.web_port} is in use; "
                    "choose another with --web-port or RTA_WEB_PORT")
    if settings.database_url:
        from streams.history.migrate import NotMigrated, check

        try:
            asyncio.run(check(settings.database_url))
        except NotMigrated as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot reach the history database: {exc}")
    if settings.forward_config is not None:
        from streams.wfm.config import WfmConfig, WfmConfigError

        try:
            WfmConfig.load(settings.forward_config)
        except WfmConfigError as exc:
            return fail(f"RTA_FORWARD_CONFIG: {exc}")
    if settings.connect_config is not None:
        from streams.acd.config import ConnectorConfigError, load_any

        try:
            load_any(settings.connect_config)
        except ConnectorConfigError as exc:
            return fail(f"RTA_CONNECT_CONFIG: {exc}")
    try:
        created = asyncio.run(ensure_topics(settings))
    except TopicsError as exc:
        return fail(str(exc))
    if created:
        say(f"created topics: {', '.join(created)}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from streams.worker.faust_fixes import FaustVersionError

    try:
        app = build_app(settings, tenants)
    except (FaustVersionError, ValueError) as exc:
        return fail(str(exc))
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

    worker = _worker_class()(
        app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False,
        # faust sets logging up itself when it starts: the JSON lines through our handler
        logging_config=(faust_logging_config(settings.log_level, "json")
                        if settings.log_format == "json" else None))
    worker.rta_worker = app.rta_worker  # type: ignore[attr-defined]
    worker.rta_grace = settings.shutdown_grace_seconds
    logging.getLogger("faust").setLevel(logging.WARNING)
    logging.getLogger("mode").setLevel(logging.WARNING)
    logging.getLogger("faust.worker").setLevel(logging.INFO)  # its start and stop: a few lines
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    # but the consumers leaving their groups at a stop (docs/ARCHITECTURE.md, "Shutdown")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.setLevel(logging.INFO)
    coordinator.addFilter(_errors_and_leaving)
    try:
        worker.execute_from_commandline()  # until stopped (Ctrl-C, SIGTERM)
    except SystemExit as exc:
        if exc.code in (0, None):
            log.info("rta worker stopped")
        raise
    return 0


def _errors_and_leaving(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or "LeaveGroup" in str(record.msg)


def _worker_class() -> type[Any]:
    """faust's worker, with the stop a SIGTERM asks for (``streams.worker.shutdown``)
    and the redaction filter on faust's own log handler in the text format."""
    import faust

    from streams.worker.shutdown import drain

    class Worker(faust.Worker):
        rta_worker: Any = None
        rta_grace = 20.0
        rta_signalled = False

        def _on_sigterm(self) -> None:
            self.rta_signalled = True
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            self.rta_signalled = True
            super()._on_sigint()

        async def on_stop(self) -> None:
            if self.rta_signalled and self.rta_worker is not None:
                try:
                    await drain(self.rta_worker, self.rta_grace)
                except Exception:
                    log.exception("stopping: finishing the batch in hand failed")
            await super().on_stop()

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for handler in logger.handlers:
                if not any(isinstance(f, Redact) for f in handler.filters):
                    handler.addFilter(Redact())

    return Worker


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
