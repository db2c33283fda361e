"""The faust app: topics, tables, agents and timers around the pure core. This module
only wires; each step is a module of its own (``streams.worker.*``): ``routing``,
``directory``, ``reducers``, ``outbox``, ``timers``, ``rebalance``, around the shared
``context.Worker`` (the app's topics and tables, and the I/O every step goes through)
and ``runtime`` (what the worker keeps in memory).

Data flow (all topics have the same number of partitions):

    rta.agent-state --route_states--> (directory hit)  rta-agent-input  (agent's partition)
                                  \\-> (miss) rta-directory "held" (key tenant:server:acd)
    rta.schedule ---route_schedules--> rta-agent-input
                                  \\-> rta-directory "dir" (key tenant:server:acd)
    rta-directory --directory_updates--> directory[identity] = agent; held[identity]
                                         (events of unknown identities, released in order)
    rta-agent-input --reducers--> AgentReducer (core) --> rta.agent-status, rta.alerts,
                                                          rta.adherence (timer), rta.deadletter

Only ``directory_updates`` writes ``directory`` and ``held``: an identity's
directory updates and held events share one rta-directory partition, so
they are handled in order whatever the timing. ``route_states`` only reads the
directory (a miss costs one more hop, never an event), so it runs on batches
(``take_events``) and sends one internal record per agent-input partition
and batch. The directory and the reducers take batches too; a table key is
written once per batch. Every step awaits the broker's acknowledgement of what it sent
before its input is acked, and every step is idempotent (event ids, window
replacement, upserts), so the service is at-least-once end to end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.worker import directory, faust_fixes, rebalance, reducers, routing, timers
from streams.worker.context import Worker
from streams.worker.runtime import LAG_SECONDS, STALL_CHECK_SECONDS


def build_app(settings: WorkerSettings, tenants: TenantsConfig) -> faust.App:
    faust_fixes.apply(settings.fetch_max_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # RTA_CREATE_TOPICS=false: faust declares nothing either (ensure_topics checked)
        topic_allow_declare=settings.create_topics,
        table_standby_replicas=0,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_commit_interval=settings.broker_commit_interval,
        producer_linger=settings.producer_linger,
        producer_max_batch_size=settings.producer_max_batch_size,
        # an input record may be RTA_MAX_MESSAGE_BYTES (1,000,000) and is forwarded with
        # a small wrapper: allow up to Kafka's default message.max.bytes (1,048,588)
        producer_max_request_size=1_048_576,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,  # the HTTP API is our own aiohttp server (streams.api.backend)
        canonical_url=settings.advertised_url,  # shared through the assignor: who owns what
        key_serializer="raw",
        value_serializer="raw",
    )
    w = Worker(app, settings, tenants)
    app.rta_runtime = w.rt  # type: ignore[attr-defined]
    app.rta_worker = w  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ streams
    # Every step takes batches (take_events): faust acks a batch's events only after
    # its body has finished; a body that raises stops the worker (Worker.guarded).
    def consume(topic: Any, batch_max: int, what: str,
                step: Callable[[Worker, list[Any]], Awaitable[None]]) -> None:
        name = topic.get_topic_name()

        async def run(stream: Any) -> None:
            async for events in stream.take_events(batch_max, settings.batch_within):
                w.rt.took(name, len(events))
                await w.guarded(what, step, events)

        app.agent(topic, name=f"rta.worker.{step.__name__}")(run)

    consume(w.state_in, settings.batch_max, "routing states", routing.route_states)
    consume(w.schedule_in, settings.batch_max, "routing schedules", routing.route_schedules)
    consume(w.directory_topic, settings.batch_max, "directory updates",
            directory.directory_updates)
    consume(w.agent_input, settings.reduce_batch_max, "reducing agent input",
            reducers.reduce_batch)

    # ------------------------------------------------------------------ timers
    def every(interval: float, step: Callable[[Worker], Awaitable[None]]) -> None:
        async def run() -> None:
            await step(w)

        app.timer(interval=interval, name=f"rta.worker.timers.{step.__name__}")(run)

    every(1.0, timers.watermarks)
    every(settings.tick_seconds, timers.alerts)
    every(settings.emit_seconds, timers.emit_summaries)
    every(2.0, timers.heal_fetches)
    every(STALL_CHECK_SECONDS, timers.watch_reading)
    every(settings.stats_seconds, timers.stats)
    every(2.0, timers.restore_assigned)
    every(LAG_SECONDS, timers.measure_lag)

    rebalance.connect(w)

    # ------------------------------------------------------------------ services
    sink = None
    if settings.database_url:
        from streams.history.runner import RecomputeRunner
        from streams.history.sink import HistorySink
        from streams.history.store import HistoryStore

        sink = HistorySink(settings, HistoryStore(settings.database_url))
        app.service(sink.service())
        app.service(RecomputeRunner(settings, tenants,
                                    HistoryStore(settings.database_url)).service())

    forwarders: list[Any] = []  # the WFM forwarder and the ACD connector: their metrics
    if settings.forward_config is not None:  # the WFM forwarder, inside this worker
        from streams.wfm.config import WfmConfig
        from streams.wfm.forwarder import Forwarder

        fwd = Forwarder(settings, WfmConfig.load(settings.forward_config))
        forwarders.append(fwd)
        app.service(fwd.service())

    if settings.connect_config is not None:  # an ACD connector, inside this worker
        from streams.acd.config import load_any
        from streams.acd.connector import Connector

        conn = Connector(settings, load_any(settings.connect_config))
        forwarders.append(conn)
        app.service(conn.service())

    if settings.web_enabled:
        from streams.api.backend import WorkerBackend, api_service

        backend = WorkerBackend(app, w.rt, settings, tenants, w.state_in, w.schedule_in,
                                w.sessions_topic, w.agents, w.agent_input.get_topic_name(),
                                sink, extra_metrics=[f.metrics for f in forwarders])
        app.service(api_service(backend, settings, tenants))

    return app
