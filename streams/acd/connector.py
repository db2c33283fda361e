"""What every ACD connector shares: publish, then checkpoint; resume from the checkpoint.

A source (``streams.acd.ccai``, ``streams.acd.omni``) reads its platform in
*steps* (a page of records, a live-status read): each :class:`Step` carries the
canonical state events it made, the records it could not use (dead letters,
with the reason), and the source's cursor state after the step. The
:class:`Connector` publishes a step's events to ``rta.agent-state`` (keyed by
identity, ``acks=all``, every send awaited), then its dead letters, and only
then writes the cursor state to the compacted ``<app_id>-acd-checkpoints``
topic (key ``source:tenant:name``) and hands it back to the source. A connector
that starts reads its key's latest checkpoint and resumes there.

Crash between the events and the checkpoint: the step is read and published
again after the restart, with the same ``eventId`` s (derived from the
platform's record ids), which the engine applies once. Nothing is published
before it is durable on the broker, and no cursor moves past events the
broker has not acknowledged, so a restart leaves no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from streams.acd.config import ConnectorConfig
from streams.acd.http import Permanent, Transient
from streams.acd.step import Step
from streams.codec import dead_letter
from streams.kafka import as_service, latest_values, record_key
from streams.metrics import Figure
from streams.retry import Backoff
from streams.settings import WorkerSettings
from streams.topics import ensure_topics

log = logging.getLogger("rta.connect")
CHECKPOINT_VERSION = 1


class Source(Protocol):
    name: str  # "ccai" / "omni"

    def restore(self, state: dict[str, Any] | None) -> None: ...

    def poll(self) -> AsyncIterator[Step]: ...

    def committed(self, state: dict[str, Any]) -> None: ...

    def next_poll_in(self) -> float: ...

    def figures(self) -> list[Figure]: ...

    @property
    def platform_up(self) -> bool: ...

    async def close(self) -> None: ...


class Connector:
    """Runs one source: polls, publishes, checkpoints; metrics and liveness."""

    def __init__(self, settings: WorkerSettings, config: ConnectorConfig,
                 source: Source | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.config, self.clock = settings, config, clock
        self.source = source or make_source(config, clock)
        self.producer: AIOKafkaProducer | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.published = 0
        self.deadlettered = 0
        self.checkpoints = 0
        self.polls = 0
        self.poll_failures = 0
        self.last_poll_ms: int | None = None
        self.broker_up = True
        # a step, its dead letters and its checkpoint in one Kafka transaction (None:
        # not tried yet); the id is the checkpoint's, so a second connector with the
        # same key fences the first
        self.transactional: bool | None = None
        self.transactional_id = f"{settings.app_id}-acd-{config.checkpoint_key}"

    # ------------------------------------------------------------------ broker
    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            mode = self.config.connector.transactions
            producer = None
            if mode != "off" and self.transactional is not False:
                producer = await self._start(transactional_id=self.transactional_id)
                if producer is None and mode == "on":
                    raise RuntimeError("the broker refused a transactional producer "
                                       "([connector] transactions = \"on\")")
                if producer is None:
                    log.warning("%s: the broker has no transactions (Tansu?): each step is "
                                "published at least once, not atomically with its "
                                "checkpoint", self.config.name)
                self.transactional = producer is not None
            if producer is None:
                producer = await self._start()
                if producer is None:
                    raise RuntimeError("cannot start a producer")
            self.producer = producer
        return self.producer

    async def _start(self, **kw: Any) -> AIOKafkaProducer | None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap, acks="all",
                                    linger_ms=5, max_request_size=16 * 1024 * 1024, **kw)
        try:
            await producer.start()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            if "transactional_id" in kw and not isinstance(exc, KafkaConnectionError):
                log.debug("transactional producer refused: %r", exc)
                return None
            raise
        return producer

    async def _drop_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def load_checkpoint(self) -> dict[str, Any] | None:
        key = self.config.checkpoint_key
        found = await latest_values(self.settings, self.settings.topic_acd_checkpoints, key)
        raw = found.get(key)
        if raw is None:
            return None
        value = orjson.loads(raw)
        if value.get("v") != CHECKPOINT_VERSION:
            raise RuntimeError(f"checkpoint {key}: version {value.get('v')} is not "
                               f"{CHECKPOINT_VERSION}")
        state: dict[str, Any] = value["state"]
        return state

    async def publish(self, step: Step) -> None:
        """The step's events, dead letters and cursor: in one transaction where the
        broker has them (readers with ``read_committed`` see the step whole or not at
        all), else in that order, each awaited."""
        producer = await self._producer()
        now = int(self.clock() * 1000)
        if self.transactional:
            async with producer.transaction():
                await self._send(producer, step, now)
        else:
            await self._send(producer, step, now)
        self.published += len(step.events)
        self.deadlettered += len(step.dead)
        for _record, why in step.dead:
            log.warning("%s: a platform record was dead-lettered: %s", self.config.name, why)
        if step.state is not None:
            self.checkpoints += 1
            self.source.committed(step.state)

    async def _send(self, producer: AIOKafkaProducer, step: Step, now: int) -> None:
        futures = []
        for body in step.events:
            futures.append(await producer.send(self.settings.topic_state, orjson.dumps(body),
                                               key=record_key("state", body)))
        for record, why in step.dead:
            raw = record if isinstance(record, bytes) else orjson.dumps(record)
            futures.append(await producer.send(
                self.settings.topic_deadletter,
                dead_letter(f"acd:{self.config.source}:{self.config.name}", None, None, None,
                            raw, why, now),
                key=self.config.checkpoint_key.encode()))
        await asyncio.gather(*futures)
        if step.state is not None:
            value = orjson.dumps({"v": CHECKPOINT_VERSION, "at": now, "state": step.state})
            await (await producer.send(self.settings.topic_acd_checkpoints, value,
                                       key=self.config.checkpoint_key.encode()))

    # ------------------------------------------------------------------ running
    async def start(self) -> None:
        await ensure_topics(self.settings)
        state = await self.load_checkpoint()
        self.source.restore(state)
        log.info("%s: %s for tenant %s from %s", self.config.name, self.config.source,
                 self.config.connector.tenant,
                 "its checkpoint" if state is not None else "the configured start")
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 30)
            self.task = None
        await self._drop_producer()
        await self.source.close()

    async def poll_once(self) -> bool:
        """One poll, every step published; False when it failed (tried again later)."""
        self.polls += 1
        try:
            async for step in self.source.poll():
                await self.publish(step)
                if self.stopping.is_set():
                    break
        except asyncio.CancelledError:
            raise
        except (KafkaError, ConnectionError, RuntimeError) as exc:  # the broker
            self.poll_failures += 1
            self.broker_up = False
            await self._drop_producer()
            log.warning("%s: the broker did not take the events; the poll is tried again "
                        "from the checkpoint: %s: %s", self.config.name, type(exc).__name__,
                        exc)
            return False
        except Exception as exc:  # the platform (down, refusing, answering nonsense)
            self.poll_failures += 1
            log.warning("%s: poll failed, tried again at the next one: %s%s",
                        self.config.name, "" if isinstance(exc, Transient | Permanent)
                        else f"{type(exc).__name__}: ", exc)
            return False
        self.broker_up = True
        self.last_poll_ms = int(self.clock() * 1000)
        return True

    async def _loop(self) -> None:
        backoff = Backoff(1.0, self.config.connector.retry_max_seconds, jitter="full")
        while not self.stopping.is_set():
            ok = await self.poll_once()
            if ok:
                backoff.reset()
                wait = self.source.next_poll_in()
            else:
                wait = max(backoff.next(), self.source.next_poll_in())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), wait)

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------------ metrics
    def live(self) -> dict[str, Any]:
        return {"live": True, "source": self.config.source, "name": self.config.name,
                "platformUp": self.source.platform_up, "brokerUp": self.broker_up,
                "lastPoll": self.last_poll_ms, "published": self.published}

    def metrics(self) -> list[Figure]:
        return [
            ("rta_connector_events_total", "counter",
             "state events published to the state topic", float(self.published)),
            ("rta_connector_deadletter_total", "counter",
             "platform records dead-lettered (malformed)", float(self.deadlettered)),
            ("rta_connector_checkpoints_total", "counter", "cursor checkpoints written",
             float(self.checkpoints)),
            ("rta_connector_polls_total", "counter", "polls of the platform",
             float(self.polls)),
            ("rta_connector_poll_failures_total", "counter",
             "polls that failed (tried again)", float(self.poll_failures)),
            ("rta_connector_platform_up", "gauge",
             "1 while the platform answers", float(self.source.platform_up)),
            ("rta_connector_broker_up", "gauge",
             "1 while the broker takes the events", float(self.broker_up)),
            *self.source.figures(),
        ]

    def service(self) -> Any:
        return as_service(self, "ConnectorService")


def make_source(config: ConnectorConfig, clock: Callable[[], float] = time.time) -> Source:
    if config.source == "ccai":
        from streams.acd.ccai import CcaiSource

        return CcaiSource(config, clock)
    from streams.acd.omni import OmniSource

    return OmniSource(config, clock)
