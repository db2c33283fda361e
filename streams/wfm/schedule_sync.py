"""``rta schedules sync``: the WFM's schedules into ``rta.schedule``, changed days only.

One pass: the Agent API (agents with their ACD ids; the client logs in when it has
no session), then Schedule for Timespan for every call window x agent set
(``streams.wfm.schedules.plan`` and ``agent_sets``), then one message per agent per local
day, of which only the days whose digest changed are published to ``rta.schedule``
(key ``tenantId:agentId``, acks from all replicas, awaited). Once a call's messages
are delivered, their digests go to the compacted ``<app_id>-schedule-sync`` (key
``tenantId:agentId:YYYY-MM-DD``), which a starting sync reads whole: a restart does
not publish everything again. A digest written after its message is at least once:
a crash between the two publishes that day again at the next pass, which the engine
applies as the same window replacement.

A pass that fails (the WFM down or refusing the login, the broker down) is logged,
without credentials or session ids, and the next pass (``interval_seconds`` later)
starts over; a call the WFM refuses as a bad request (400, 409, 413, 422: see
``streams.wfm.client``) is logged and skipped while the other calls go on. The digests of
days no longer in the range are deleted (tombstones) after a pass without failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaProducer

from rta.calendar import DayCalendar
from streams.kafka import latest_values
from streams.logs import configure_logging
from streams.process import stop_event
from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from streams.wfm.client import Permanent, Transient, WfmClient
from streams.wfm.config import WfmConfig
from streams.wfm.schedules import (
    DayMessage,
    agent_sets,
    day_messages,
    day_range,
    entries_by_agent,
    plan_windows,
    should_publish,
    split_digest_key,
    stale_keys,
    sync_agents,
)

log = logging.getLogger("rta.schedule_sync")
NO_ACD_LISTED = 20  # agent ids named in the "no ACD id" warning


class ScheduleSync:
    def __init__(self, settings: WorkerSettings, config: WfmConfig, time_zone: str, *,
                 client: WfmClient | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.config, self.clock = settings, config, clock
        self.tenant = config.wfm.tenant
        self.time_zone = time_zone
        self.cal = DayCalendar(time_zone)
        self.client = client or WfmClient(config)
        self.published: dict[str, str] = {}  # digest key -> digest last published
        self.loaded = False  # the digests topic has been read
        self.producer: AIOKafkaProducer | None = None
        self.counters = {"passes": 0, "calls": 0, "published": 0, "unchanged": 0,
                         "failures": 0}
        self._no_acd_warned: set[Any] = set()

    # ------------------------------------------------------------------ broker
    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap, acks="all",
                                        linger_ms=10, max_request_size=16 * 1024 * 1024)
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self.producer = producer
        return self.producer

    async def _drop_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def load_digests(self) -> int:
        """Read the digests topic whole (this tenant's keys); returns the count."""
        await ensure_topics(self.settings)
        found = await latest_values(self.settings, self.settings.topic_schedule_sync,
                                    f"{self.tenant}:")
        self.published = {k: v.decode(errors="replace") for k, v in found.items()
                          if split_digest_key(k) is not None}
        self.loaded = True
        return len(self.published)

    async def _publish(self, messages: list[DayMessage]) -> None:
        """The messages to ``rta.schedule``, delivered; then their digests."""
        if not messages:
            return
        producer = await self._producer()
        futures = [await producer.send(self.settings.topic_schedule, orjson.dumps(m.message),
                                       key=m.record_key.encode()) for m in messages]
        await asyncio.gather(*futures)
        futures = [await producer.send(self.settings.topic_schedule_sync, m.digest.encode(),
                                       key=m.key.encode()) for m in messages]
        await asyncio.gather(*futures)
        for m in messages:
            self.published[m.key] = m.digest

    async def _forget(self, keys: list[str]) -> None:
        if not keys:
            return
        producer = await self._producer()
        futures = [await producer.send(self.settings.topic_schedule_sync, None, key=k.encode())
                   for k in keys]
        await asyncio.gather(*futures)
        for k in keys:
            self.published.pop(k, None)

    # ------------------------------------------------------------------ a pass
    async def run_pass(self) -> dict[str, Any]:
        """One pass; never raises (but for cancellation): the summary says how it went."""
        self.counters["passes"] += 1
        started = time.monotonic()
        now_ms = int(self.clock() * 1000)
        sync = self.config.sync
        first, last = day_range(self.cal, now_ms, sync.days_back, sync.days_ahead)
        s: dict[str, Any] = {
            "pass": self.counters["passes"], "ok": False, "tenant": self.tenant,
            "from": self.cal.iso(first), "to": self.cal.iso(last), "agents": 0,
            "noAcdId": 0, "windows": 0, "calls": 0, "published": 0, "cleared": 0,
            "unchanged": 0, "failures": 0, "invalidActivities": 0, "notAnswered": 0,
            "forgotten": 0}
        try:
            await self._pass(s, first, last)
        except asyncio.CancelledError:
            raise
        except (Transient, Permanent) as exc:
            s["failures"] += 1
            log.warning("schedule sync pass %d failed, retried at the next one: %s",
                        s["pass"], exc)
        except Exception as exc:  # the broker (or anything else): next pass
            s["failures"] += 1
            await self._drop_producer()
            log.warning("schedule sync pass %d failed, retried at the next one: %s: %s",
                        s["pass"], type(exc).__name__, exc)
        s["ok"] = s["failures"] == 0
        s["seconds"] = round(time.monotonic() - started, 3)
        for k in ("calls", "published", "unchanged", "failures"):
            self.counters[k] += s[k]
        return s

    async def _pass(self, s: dict[str, Any], first: int, last: int) -> None:
        if not self.loaded:
            n = await self.load_digests()
            log.info("schedule sync: %d published agent-days of tenant %s known", n,
                     self.tenant)
        sync = self.config.sync
        agents, no_acd = sync_agents(await self.client.agents(sync.only_active))
        s["agents"], s["noAcdId"] = len(agents), len(no_acd)
        new = [a for a in no_acd if a not in self._no_acd_warned]
        if new:
            self._no_acd_warned.update(new)
            listed = ", ".join(str(a) for a in new[:NO_ACD_LISTED])
            more = f" and {len(new) - NO_ACD_LISTED} more" if len(new) > NO_ACD_LISTED else ""
            log.warning("schedule sync: %d agents without an ACD id in the Agent API are "
                        "not synced: %s%s", len(new), listed, more)
        by_id = {a.agent_id: a for a in agents}
        windows = plan_windows(self.cal, first, last, sync.days_per_call)
        sets = agent_sets(list(by_id), sync.agents_per_call)
        s["windows"] = len(windows)
        for w in windows:
            for ids in sets:
                try:
                    answer = await self.client.schedules(ids, w.start_ms, w.end_ms)
                except Permanent as exc:
                    s["failures"] += 1
                    log.warning("schedule sync: %s..%s, agents %s..%s (%d): %s; skipped: %s",
                                self.cal.iso(w.first), self.cal.iso(w.last), ids[0], ids[-1],
                                len(ids), exc, exc.answer[:200])
                    continue
                s["calls"] += 1
                entries = entries_by_agent(answer)
                out: list[DayMessage] = []
                for aid in ids:
                    entry = entries.get(aid)
                    if entry is None:
                        # not in the answer (out of the user's views, or a partial
                        # answer): left as it is, never cleared on that evidence
                        s["notAnswered"] += 1
                        continue
                    s["invalidActivities"] += entry.invalid
                    for m in day_messages(self.tenant, sync.acd_server_id, by_id[aid], entry,
                                          self.cal, w):
                        if should_publish(m, self.published.get(m.key)):
                            out.append(m)
                        else:
                            s["unchanged"] += 1
                await self._publish(out)
                s["published"] += len(out)
                s["cleared"] += sum(1 for m in out if m.empty)
        if s["invalidActivities"]:
            log.warning("schedule sync: %d activities without a type or with bad times "
                        "were left out", s["invalidActivities"])
        if s["failures"] == 0:
            gone = stale_keys(list(self.published), self.tenant, first, last)
            await self._forget(gone)
            s["forgotten"] = len(gone)

    # ------------------------------------------------------------------ running
    async def run(self, once: bool = False,
                  on_pass: Callable[[dict[str, Any]], None] | None = None,
                  stop: asyncio.Event | None = None) -> int:
        """Passes every ``interval_seconds`` (start to start) until ``stop`` is set;
        ``once``: a single pass, 0 when it succeeded, else 1."""
        stop = stop or asyncio.Event()
        interval = self.config.sync.interval_seconds
        while True:
            began = time.monotonic()
            summary = await self.run_pass()
            if on_pass is not None:
                on_pass(summary)
            if once:
                return 0 if summary["ok"] else 1
            wait = max(0.0, interval - (time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return 0

    async def close(self) -> None:
        await self._drop_producer()
        await self.client.close()


def run_sync(settings: WorkerSettings, config: WfmConfig, time_zone: str, once: bool,
             out: TextIO | None = None) -> int:
    """``rta schedules sync``: one JSON line per pass on ``out`` (stdout), logs on
    stderr; SIGTERM or Ctrl-C stop it between passes."""
    configure_logging("info", settings.log_format, "rta schedules sync")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its retries: our warnings
    stream = out or sys.stdout

    def printed(summary: dict[str, Any]) -> None:
        stream.write(orjson.dumps(summary).decode() + "\n")
        stream.flush()

    async def main() -> int:
        stop = stop_event()
        sync = ScheduleSync(settings, config, time_zone)
        log.info("rta schedules sync: tenant %s (%s), WFM %s, every %.0f s", sync.tenant,
                 time_zone, config.wfm.base_url, config.sync.interval_seconds)
        try:
            return await sync.run(once, printed, stop)
        finally:
            await sync.close()

    return asyncio.run(main())
