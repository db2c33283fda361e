"""Query views: every worker reads the compacted output topics whole.

``rta.agent-status`` (latest status per agent), ``rta.adherence`` (day summaries,
the last ``api_history_days`` days of each tenant), ``rta.alerts`` (the latest
record of each alert of the last day, for the monitor) and the internal sessions
topic are read from the beginning by a plain consumer (no group: each worker
reads every partition), so whichever worker receives an HTTP request answers
for any agent, with no routing. The views lag the topics by one fetch
(``fetch_max_wait_ms``, 100 ms by default); values are kept as the JSON bytes
the topic holds and parsed only when served. What they read is also offered to
the monitor's open event streams (``streams.api.feed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import date

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from rta.summary import agent_sort_key
from streams.api.feed import LiveFeed, short_summary
from streams.api.ports import Session, Unavailable
from streams.kafka import stop_reading
from streams.retry import Backoff
from streams.settings import WorkerSettings

log = logging.getLogger("rta.views")
DAY_SECONDS = 86_400
ALERT_KEEP_MS = 86_400_000  # alerts kept: ended within a day of the newest one's start
ALERTS_PER_TENANT = 20_000  # and at most this many (the oldest ended ones go first)


class TopicViews:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topics = (settings.topic_status, settings.topic_adherence, settings.topic_sessions,
                       settings.topic_alerts)
        self.status: dict[tuple[str, str], bytes] = {}  # (tenant, agent id) -> status JSON
        self.tenant_status: dict[str, dict[str, bytes]] = {}  # the same, by tenant
        # tenant -> alert id -> (start, end or None, latest record's JSON)
        self.alerts: dict[str, dict[str, tuple[int, int | None, bytes]]] = {}
        self._newest_alert: dict[str, int] = {}  # tenant -> latest alert start seen
        self.feed = LiveFeed()
        self.days: dict[tuple[str, str], dict[str, bytes]] = {}  # (tenant, date) -> agent -> JSON
        self._day_of_key: dict[bytes, tuple[str, str, str]] = {}  # for tombstones
        self._order: dict[tuple[str, str], list[str]] = {}  # agent ids sorted, per day
        self._newest_day: dict[str, int] = {}  # tenant -> newest date ordinal seen
        self.sessions: dict[str, Session] = {}  # digest -> session, while not ended
        self.seen: dict[str, int] = {}  # digest -> last use the topic holds (epoch ms)
        self.used: dict[str, int] = {}  # digest -> last use on this worker (epoch ms)
        self.ended: dict[str, int] = {}  # digest -> when it ended (epoch ms)
        self.consumer: AIOKafkaConsumer | None = None
        self.end_offsets: dict[TopicPartition, int] = {}  # last measured log end offsets
        self.caught_up = False  # read up to the end offsets measured at start
        self.broker_ok_at = 0.0  # monotonic time of the last successful broker round trip
        self.records = 0
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._next: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self._sync_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.topics, bootstrap_servers=self.settings.bootstrap, group_id=None,
            enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms, max_poll_records=5000)
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name="rta-query-views")

    async def stop(self) -> None:
        await stop_reading(self._task, self.consumer)

    async def _run(self) -> None:
        assert self.consumer is not None
        targets: dict[TopicPartition, int] | None = None
        last_check = 0.0
        pause = Backoff.fixed()
        while True:
            try:
                if time.monotonic() - last_check > 2.0:
                    last_check = time.monotonic()
                    parts = self.consumer.assignment()
                    if parts:
                        self.end_offsets = await self.consumer.end_offsets(list(parts))
                        self.broker_ok_at = time.monotonic()
                        if targets is None:
                            # ready once statuses, summaries and sessions are read; the
                            # alerts (not compacted: a week of them, maybe) come after
                            targets = {tp: end for tp, end in self.end_offsets.items()
                                       if tp.topic != self.settings.topic_alerts}
                batch = await self.consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    for rec in records:
                        self._apply(tp.topic, rec.key, rec.value)
                    self.records += len(records)
                    self._next[tp] = records[-1].offset + 1
                if batch:
                    self._progress.set()
                    self._progress = asyncio.Event()
                if not self.caught_up and targets is not None and await self._reached(targets):
                    self.caught_up = True
                    self._progress.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # broker trouble: keep trying, /readyz shows it
                log.warning("query views: fetch failed; retrying", exc_info=True)
                await pause.wait()

    async def _reached(self, targets: dict[TopicPartition, int]) -> bool:
        assert self.consumer is not None
        for tp, end in targets.items():
            if await self.consumer.position(tp) < end:
                return False
        return True

    # ------------------------------------------------------------------ records
    def _apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:
            if topic == self.settings.topic_status:
                self._apply_status(value)
            elif topic == self.settings.topic_adherence:
                self._apply_summary(key, value)
            elif topic == self.settings.topic_alerts:
                self._apply_alert(value)
            else:
                self._apply_session(key, value)
        except Exception:  # a record we cannot read is skipped, never fatal
            log.warning("query views: unreadable record on %s", topic, exc_info=True)

    def _apply_status(self, value: bytes | None) -> None:
        if value is None:
            return
        st = orjson.loads(value)
        tenant, agent = str(st["tenantId"]), str(st["agentId"])
        self.status[(tenant, agent)] = value
        self.tenant_status.setdefault(tenant, {})[agent] = value
        self.feed.publish(tenant, "status", value)

    def _apply_alert(self, value: bytes | None) -> None:
        if value is None:
            return
        a = orjson.loads(value)
        tenant, alert_id = str(a["tenantId"]), str(a["alertId"])
        start, end = int(a["start"]), a.get("end")
        kept = self.alerts.setdefault(tenant, {})
        known = kept.get(alert_id)
        if known is not None and known[1] is not None and end is None:
            return  # a start sent again (at least once) after its end: the end stands
        kept[alert_id] = (start, None if end is None else int(end), value)
        newest = max(start, self._newest_alert.get(tenant, start))
        self._newest_alert[tenant] = newest
        if len(kept) > ALERTS_PER_TENANT or (known is None and len(kept) % 1000 == 0):
            self._forget_alerts(tenant, newest)
        self.feed.publish(tenant, "alert", value)

    def _forget_alerts(self, tenant: str, newest: int) -> None:
        kept = self.alerts[tenant]
        # ended more than a day ago; open, started more than two days ago (an end that
        # never came: the agent's history was moved or recomputed meanwhile)
        for k in [k for k, (s, e, _) in kept.items()
                  if (e is not None and e < newest - ALERT_KEEP_MS)
                  or (e is None and s < newest - 2 * ALERT_KEEP_MS)]:
            del kept[k]
        if len(kept) > ALERTS_PER_TENANT:  # still too many: the oldest ended ones go
            ended = sorted((e, k) for k, (_, e, _) in kept.items() if e is not None)
            for _, k in ended[:len(kept) - ALERTS_PER_TENANT]:
                del kept[k]

    def tenant_alerts(self, tenant: str) -> list[bytes]:
        """The tenant's alerts kept, open ones and those ended within a day of the
        newest, oldest first."""
        newest = self._newest_alert.get(tenant, 0)
        kept = self.alerts.get(tenant, {})
        return [v for s, e, v in sorted(kept.values(), key=lambda x: x[0])
                if (e is None and s >= newest - 2 * ALERT_KEEP_MS)
                or (e is not None and e >= newest - ALERT_KEEP_MS)]

    def _apply_summary(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:  # tombstone: the day no longer exists
            where = self._day_of_key.pop(key, None)
            if where is not None:
                day = self.days.get(where[:2])
                if day is not None:
                    day.pop(where[2], None)
                self._order.pop(where[:2], None)
                self.feed.publish(where[0], "summary", orjson.dumps(
                    {"agentId": where[2], "date": where[1], "removed": True}))
            return
        s = orjson.loads(value)
        tenant, day_iso, agent = str(s["tenantId"]), str(s["date"]), str(s["agentId"])
        ordinal = date.fromisoformat(day_iso).toordinal()
        newest = self._newest_day.get(tenant)
        if newest is None or ordinal > newest:
            self._newest_day[tenant] = newest = ordinal
            self._forget_old(tenant, newest)
        if ordinal <= newest - self.settings.api_history_days:
            return
        previous = self._day_of_key.get(key)
        if previous is not None and previous != (tenant, day_iso, agent):
            self.days.get(previous[:2], {}).pop(previous[2], None)  # agentId changed
            self._order.pop(previous[:2], None)
        self._day_of_key[key] = (tenant, day_iso, agent)
        day = self.days.setdefault((tenant, day_iso), {})
        if agent not in day:
            self._order.pop((tenant, day_iso), None)
        day[agent] = value
        if self.feed.wants(tenant):
            self.feed.publish(tenant, "summary", orjson.dumps(short_summary(s)))

    def _forget_old(self, tenant: str, newest: int) -> None:
        cutoff = newest - self.settings.api_history_days
        for k in [k for k in self.days if k[0] == tenant
                  and date.fromisoformat(k[1]).toordinal() <= cutoff]:
            del self.days[k]
            self._order.pop(k, None)
        for rk in [rk for rk, w in self._day_of_key.items() if w[0] == tenant
                   and date.fromisoformat(w[1]).toordinal() <= cutoff]:
            del self._day_of_key[rk]

    def agent_order(self, tenant: str, day_iso: str) -> list[str]:
        """The day's agent ids sorted as pages list them (cached until one comes or goes)."""
        order = self._order.get((tenant, day_iso))
        if order is None:
            order = sorted(self.days.get((tenant, day_iso), {}), key=agent_sort_key)
            self._order[(tenant, day_iso)] = order
        return order

    def kept(self, tenant: str, day_iso: str) -> bool:
        """Whether ``day_iso`` is inside the days this view keeps for ``tenant``."""
        newest = self._newest_day.get(tenant)
        return newest is None or (
            date.fromisoformat(day_iso).toordinal() > newest - self.settings.api_history_days)

    def _apply_session(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        k = key.decode()
        if value is None:  # deleted for good (see stale_sessions)
            self.forget_session(k.removesuffix(":seen"))
            return
        s = orjson.loads(value)
        if k.endswith(":seen"):
            k = k.removesuffix(":seen")
            self.seen[k] = max(int(s["lastSeen"]), self.seen.get(k, 0))
        elif s.get("ended"):
            self.sessions.pop(k, None)
            self.ended[k] = int(s.get("at", 0))
        else:
            self.sessions[k] = Session(s["tenant"], s["user"], int(s["created"]),
                                       int(s["lastSeen"]))

    def stale_sessions(self, now: int, idle_ms: int, grace_ms: int) -> list[str]:
        """Session keys that can be deleted from the topic: ended, idle past the timeout,
        or last uses of sessions no longer known, for longer than ``grace_ms`` (a use
        racing with the end then still finds the end marker)."""
        out = [k for k, at in self.ended.items() if at < now - grace_ms]
        out += [k for k, s in self.sessions.items()
                if max(s.last_seen, self.seen.get(k, 0), self.used.get(k, 0))
                < now - idle_ms - grace_ms]
        out += [k for k, at in self.seen.items() if k not in self.sessions
                and k not in self.ended and at < now - grace_ms]
        return out

    def forget_session(self, key: str) -> None:
        self.sessions.pop(key, None)
        self.seen.pop(key, None)
        self.used.pop(key, None)
        self.ended.pop(key, None)

    def shared_last_use(self, key: str) -> int:
        """The last use of the session every worker knows of (through the topic)."""
        found = self.sessions.get(key)
        return max(found.last_seen if found else 0, self.seen.get(key, 0))

    def session(self, key: str) -> Session | None:
        """The live session under ``key`` with its latest use, or None."""
        found = self.sessions.get(key)
        if found is None:
            return None
        last = max(found.last_seen, self.seen.get(key, 0), self.used.get(key, 0))
        if last > found.last_seen:
            found = Session(found.tenant, found.user, found.created, last)
        return found

    # ------------------------------------------------------------------ reading
    async def sync(self, topic: str, timeout: float) -> None:
        """Wait until this view has read ``topic`` up to its current end (read your
        writes: a session created through another worker a moment ago)."""
        assert self.consumer is not None
        parts = [tp for tp in self.consumer.assignment() if tp.topic == topic]
        if not parts:
            return
        deadline = time.monotonic() + timeout
        try:
            # one broker round trip at a time, whoever asks; the wait counts too
            await asyncio.wait_for(self._sync_lock.acquire(), timeout)
        except TimeoutError:
            raise Unavailable("busy checking sessions; retry") from None
        try:
            ends = await asyncio.wait_for(self.consumer.end_offsets(parts),
                                          max(0.1, deadline - time.monotonic()))
        except Exception:
            raise Unavailable("the broker did not answer in time; retry") from None
        finally:
            self._sync_lock.release()
        while time.monotonic() < deadline:
            behind = [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]
            if not behind:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), deadline - time.monotonic())

    def session_record(self, session: Session) -> bytes:
        return orjson.dumps({"tenant": session.tenant, "user": session.user,
                             "created": session.created, "lastSeen": session.last_seen})

    def lag(self) -> int:
        """Records on the broker not yet in the views (as of the last measurement)."""
        return sum(max(0, end - self._next.get(tp, 0)) for tp, end in self.end_offsets.items())

    def summary_count(self) -> int:
        return sum(len(d) for d in self.days.values())
