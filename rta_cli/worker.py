"""`rta worker` and `rta up`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from rta.config import TenantsConfig
from streams.settings import WorkerSettings


def run_worker(settings: WorkerSettings, tenants: TenantsConfig,
               banner: str | None = None) -> int:
    import faust

    from rta_cli.runtime import tune_gc
    from streams.topics import ensure_topics
    from streams.worker.app import build_app

    if settings.web_enabled and not _port_free(settings.web_bind, settings.web_port):
        print(f"rta: the HTTP port {settings.web_bind}:{settings.web_port} is in use; choose "
              "another with --web-port or RTA_WEB_PORT", file=sys.stderr)
        return 2
    if settings.database_url:
        from history.migrate import NotMigrated, check

        try:
            asyncio.run(check(settings.database_url))
        except NotMigrated as exc:
            print(f"rta: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"rta: cannot reach the history database: {exc}", file=sys.stderr)
            return 2
    if settings.forward_config is not None:
        from wfm.config import WfmConfig, WfmConfigError

        try:
            WfmConfig.load(settings.forward_config)
        except WfmConfigError as exc:
            print(f"rta: RTA_FORWARD_CONFIG: {exc}", file=sys.stderr)
            return 2
    created = asyncio.run(ensure_topics(settings))
    if created:
        print(f"created topics: {', '.join(created)}", file=sys.stderr)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from streams.faust_fixes import FaustVersionError

    try:
        app = build_app(settings, tenants)
    except (FaustVersionError, ValueError) as exc:
        print(f"rta: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    if banner:
        @app.on_rebalance_complete.connect
        async def _ready(*args: Any, **kwargs: Any) -> None:
            print(banner, flush=True)

    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True,
                          redirect_stdouts=False)
    logging.getLogger("faust").setLevel(logging.WARNING)
    logging.getLogger("mode").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    worker.execute_from_commandline()  # returns when stopped (Ctrl-C, SIGTERM)
    return 0


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def up_banner(broker: str, settings: WorkerSettings, log: Path,
              demo_agents: int | None = None, history: str = "off",
              broker_kind: str = "tansu") -> str:
    if demo_agents is None:
        demo = f"  try:  rta demo --broker {broker}\n"
    else:
        demo = (f"  demo: {demo_agents} agents of tenant northwind (America/Chicago), "
                f"yesterday and today, fed as the clock goes\n"
                f"  watch: rta tail {settings.topic_alerts} --broker {broker}\n"
                f"         rta tail {settings.topic_adherence} --latest --broker {broker}\n")
    api = f"http://127.0.0.1:{settings.web_port}"
    if broker_kind == "kafka":
        from rta_cli.local_kafka import KAFKA_VERSION

        kind, keeps = f"Apache Kafka {KAFKA_VERSION}, throwaway data", "a temporary folder"
    else:
        kind, keeps = "Tansu, in memory", "memory only"
    return f"""
rta is up.
  HTTP API: {api}  (OpenAPI: {api}/openapi.json; demo key in examples/tenants.toml)
    curl -H 'x-api-key: northwind-demo-key' {api}/v1/agents/1000/status
  broker ({kind}): {broker}
  history: {history}
  send state events to   {settings.topic_state}   key tenantId:acdServerId:acdAgentId
  send schedules to      {settings.topic_schedule}      key tenantId:agentId
  results on             {settings.topic_adherence}, {settings.topic_status}, \
{settings.topic_alerts}, {settings.topic_deadletter}
{demo}  broker log: {log}
Ctrl-C stops everything (the broker keeps data in {keeps}).
"""
