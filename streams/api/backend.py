"""The HTTP API's view of a worker (``streams.api.ports.Backend``) and its service.

* Writes (ingest, sessions) go through the worker's producer and return once
  the broker acknowledged them.
* Status and adherence are read from the query views (``streams.api.views``): any
  worker answers for any agent.
* Real-time agent states come from the reducers, which live on the worker
  owning the agent's partition: the worker that gets the request asks every
  worker of the group (``/internal/v1/activity``, with the caller's
  credentials) and merges, checking that every partition answered once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from mode import Service

from rta.agent import AgentReducer
from rta.config import TenantsConfig, TenantSettings
from rta.models import ScheduleMessage, StateEvent
from rta.queries import activity_detail, timeline
from rta.summary import agent_sort_key
from streams.api.app import Api, ApiConfig
from streams.api.auth import Authenticator
from streams.api.feed import LiveFeed
from streams.api.ports import Session, Unavailable
from streams.api.views import TopicViews
from streams.codec import agent_key, encode, identity_key, unpack_value
from streams.metrics import Figure, Labelled
from streams.settings import WorkerSettings

log = logging.getLogger("rta.api")
SLICE_SECONDS = 0.01
ACK_TIMEOUT = 30.0  # seconds to wait for the broker's acknowledgement of an ingest


def now_ms() -> int:
    return int(time.time() * 1000)


class TopicSessions:
    """Sessions in a compacted topic, read by every worker's views: a session works
    on any worker and ends on all.

    Key ``<digest>`` holds the session, then its end marker (kept, not a tombstone);
    key ``<digest>:seen`` its last use. A use recorded on one worker while another
    ends the session only writes the ``:seen`` key, so it cannot revive it."""

    def __init__(self, views: TopicViews, topic: Any, idle_seconds: int) -> None:
        self.views, self.topic = views, topic
        # every use counts at once on this worker; the others hear of uses at most
        # this often, which is often enough for the idle timeout
        self.touch_ms = min(60_000, idle_seconds * 1000 // 4)

    async def get(self, key: str) -> Session | None:
        found = self.views.session(key)
        if found is None and key not in self.views.ended:  # maybe just made elsewhere
            await self.views.sync(self.views.settings.topic_sessions, timeout=2.0)
            found = self.views.session(key)
        return found

    async def create(self, key: str, session: Session) -> None:
        await _acked(await self.topic.send(key=key.encode(),
                                           value=self.views.session_record(session)))
        self.views.sessions[key] = session

    async def touch(self, key: str, now: int) -> None:
        self.views.used[key] = max(now, self.views.used.get(key, 0))
        if now - self.views.shared_last_use(key) >= self.touch_ms:
            await self.send_use(key, now)

    async def send_use(self, key: str, now: int) -> None:
        try:
            fut = await self.topic.send(key=f"{key}:seen".encode(),
                                        value=orjson.dumps({"lastSeen": now}))
        except Exception as exc:
            raise Unavailable(f"could not send to the broker ({type(exc).__name__})") from None
        await _acked(fut)
        self.views.seen[key] = max(now, self.views.seen.get(key, 0))

    async def end(self, key: str) -> None:
        try:
            fut = await self.topic.send(
                key=key.encode(), value=orjson.dumps({"ended": True, "at": now_ms()}))
        except Exception as exc:
            raise Unavailable(f"could not send to the broker ({type(exc).__name__})") from None
        await _acked(fut)
        self.views.sessions.pop(key, None)
        self.views.ended[key] = now_ms()

    async def sweep(self, now: int, idle_ms: int, grace_ms: int = 3_600_000) -> int:
        """Delete ended and expired sessions from the topic (tombstones, so compaction
        removes them) and from memory. Every worker may do it: deleting twice is
        harmless. Returns how many were deleted."""
        stale = self.views.stale_sessions(now, idle_ms, grace_ms)
        futures = []
        try:
            for key in stale:
                for k in (key, f"{key}:seen"):
                    futures.append(await self.topic.send(key=k.encode(), value=None))
                self.views.forget_session(key)
        except Exception as exc:
            raise Unavailable(f"could not send to the broker ({type(exc).__name__})") from None
        await _acked(*futures)
        return len(stale)


async def _acked(*futures: Any) -> None:
    try:
        await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT)
    except TimeoutError:
        raise Unavailable(f"the broker did not acknowledge within {ACK_TIMEOUT:.0f} s; "
                          "retry (eventIds make retries harmless)") from None
    except Exception as exc:
        raise Unavailable(f"the broker refused the write ({type(exc).__name__}); retry "
                          "(eventIds make retries harmless)") from None


class WorkerBackend:
    def __init__(self, app: Any, rt: Any, settings: WorkerSettings, tenants: TenantsConfig,
                 state_topic: Any, schedule_topic: Any, sessions_topic: Any,
                 agents_table: Any, agent_input_topic: str, sink: Any = None,
                 extra_metrics: list[Callable[[], list[Figure]]] | None = None) -> None:
        self.app, self.rt, self.settings, self.tenants = app, rt, settings, tenants
        self.state_topic, self.schedule_topic = state_topic, schedule_topic
        self.agents_table, self.agent_input_topic = agents_table, agent_input_topic
        self.sink = sink  # the history sink, when there is a database
        self.extra_metrics = extra_metrics or []  # e.g. the WFM forwarder's
        self.views = TopicViews(settings)
        self.sessions = TopicSessions(self.views, sessions_topic, settings.session_idle_seconds)
        self.http: aiohttp.ClientSession | None = None
        secret = settings.cluster_secret
        self._secret = (secret.get_secret_value().encode() if secret is not None
                        else secrets.token_bytes(32))

    def tenant_settings(self, tenant: str) -> TenantSettings:
        return self.tenants.get(tenant)

    @property
    def feed(self) -> LiveFeed:
        return self.views.feed

    # ------------------------------------------------------------------ writes
    async def publish_states(self, events: list[StateEvent]) -> None:
        futures = []
        try:
            for ev in events:
                key = identity_key(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)
                futures.append(await self.state_topic.send(key=key.encode(),
                                                           value=encode(ev.to_json())))
        except Exception as exc:
            raise Unavailable(f"could not send to the broker ({type(exc).__name__}); retry "
                              "(eventIds make retries harmless)") from None
        await _acked(*futures)

    async def publish_schedules(self, messages: list[tuple[ScheduleMessage, dict[str, Any]]]
                                ) -> None:
        futures = []
        try:
            for msg, raw in messages:
                key = agent_key(msg.tenant_id, str(msg.agent_id))
                futures.append(await self.schedule_topic.send(key=key.encode(),
                                                              value=encode(raw)))
        except Exception as exc:
            raise Unavailable(f"could not send to the broker ({type(exc).__name__}); "
                              "retry") from None
        await _acked(*futures)

    # ------------------------------------------------------------------ views
    def status(self, tenant: str, agent_id: str) -> dict[str, Any] | None:
        raw = self.views.status.get((tenant, agent_id))
        return None if raw is None else orjson.loads(raw)

    async def summaries(self, tenant: str, date: str
                        ) -> tuple[dict[str, bytes], list[str]] | None:
        if self.views.kept(tenant, date):  # recent days: live, from the views
            return self.views.days.get((tenant, date), {}), self.views.agent_order(tenant, date)
        if self.sink is None:
            return None
        try:  # older days: from the history database
            by_agent = await self.sink.store.day(tenant, date)
        except Exception as exc:
            raise Unavailable(f"the history database is unavailable ({type(exc).__name__}); "
                              "retry") from None
        return by_agent, sorted(by_agent, key=agent_sort_key)

    def live(self, tenant: str, date: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
        if not self.views.caught_up:
            raise Unavailable("this worker is still reading the output topics; retry")
        return (list(self.views.tenant_status.get(tenant, {}).values()),
                list(self.views.days.get((tenant, date), {}).values()),
                self.views.tenant_alerts(tenant))

    # ------------------------------------------------------------------ reducers
    def _assigned(self) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment()
                if tp.topic == self.agent_input_topic}

    def _reducer(self, akey: str, tenant: str) -> AgentReducer | None:
        reducer = self.rt.reducers.get(akey)
        if reducer is not None:
            return reducer if reducer.ctx.tenant_id == tenant else None
        snap = unpack_value(self.agents_table.get(akey))
        if snap is None:
            return None
        # read-only: a copy from the table, not registered (no timers, no emits)
        return AgentReducer.restore(self.rt.context(tenant), snap)

    async def local_activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                             to_ts: int, view: str = "rtas"
                             ) -> tuple[list[dict[str, Any]], list[int]]:
        if not self.rt.ready or self.app.rebalancing:
            raise Unavailable("this worker is rebalancing; retry")
        assigned = self._assigned()
        if agent_ids is None:
            keys = [k for k, r in self.rt.reducers.items() if r.ctx.tenant_id == tenant]
            prefix = f"{tenant}:"
            keys += [k for k in self.agents_table
                     if k.startswith(prefix) and k not in self.rt.reducers]
        else:
            keys = [agent_key(tenant, a) for a in agent_ids]
        rows = []
        slice_end = time.perf_counter() + SLICE_SECONDS
        for akey in keys:
            if time.perf_counter() > slice_end:  # many agents: let the stream work too
                await asyncio.sleep(0)
                slice_end = time.perf_counter() + SLICE_SECONDS
            if self.rt.partition_of(akey) not in assigned:
                continue
            reducer = self._reducer(akey, tenant)
            if reducer is None or agent_key(tenant, reducer.agent_key) != akey:
                continue
            row = (timeline(reducer, from_ts, to_ts, now_ms()) if view == "timeline"
                   else activity_detail(reducer, from_ts, to_ts))
            if row is not None:
                rows.append(row)
        if self._assigned() != assigned or not self.rt.ready:
            raise Unavailable("this worker rebalanced while answering; retry")
        return rows, sorted(assigned)

    async def activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                       to_ts: int, view: str = "rtas") -> list[dict[str, Any]]:
        me = self.settings.advertised_url
        hosts = self._hosts()
        rows: list[dict[str, Any]] = []
        covered: list[int] = []
        remote = [h for h in hosts if h != me]
        if me in hosts or not hosts:
            local, parts = await self.local_activity(tenant, agent_ids, from_ts, to_ts, view)
            rows += local
            covered += parts
        body = orjson.dumps({"tenant": tenant, "agentIds": agent_ids, "fromTime": from_ts,
                             "toTime": to_ts, "sentAt": now_ms(), "view": view})
        for host, answer in zip(remote, await asyncio.gather(
                *(self._ask(h, body) for h in remote)), strict=True):
            if view != "rtas" and answer.get("view") != view:
                # a worker of an earlier version (a rolling upgrade) answers with
                # Real-Time Agent States whatever it is asked
                raise Unavailable(f"worker {host} cannot answer for {view!r} yet (an "
                                  "earlier version); retry")
            rows += answer["agents"]
            covered += answer["partitions"]
        if sorted(covered) != list(range(self.settings.partitions)):
            raise Unavailable("the group is rebalancing (not every partition answered "
                              "exactly once); retry")
        return rows

    def cluster_signature(self, body: bytes) -> str:
        return hmac.new(self._secret, body, "sha256").hexdigest()

    def _hosts(self) -> list[str]:
        try:
            table = self.app.router.table_metadata(self.agents_table.name)
        except Exception:
            return []
        return sorted(str(url).rstrip("/") for url in table)

    async def _ask(self, host: str, body: bytes) -> dict[str, Any]:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/json",
                   "x-rta-cluster": self.cluster_signature(body)}
        try:
            async with self.http.post(f"{host}/internal/v1/activity", data=body,
                                      headers=headers) as resp:
                data = await resp.read()
                if resp.status != 200:
                    hint = (" (is RTA_CLUSTER_SECRET the same on every worker?)"
                            if resp.status == 401 else "")
                    raise Unavailable(f"worker {host} answered {resp.status}{hint}; retry")
                answer: dict[str, Any] = orjson.loads(data)
                return answer
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"worker {host} is unreachable ({type(exc).__name__}); "
                              "retry") from None

    # ------------------------------------------------------------------ operations
    def health(self) -> dict[str, Any]:
        broker_age = time.monotonic() - self.views.broker_ok_at
        assigned = self._assigned() if self.app.consumer is not None else set()
        checks: dict[str, dict[str, Any]] = {
            "broker": {"ok": broker_age < 10.0,
                       "secondsSinceLastContact": round(broker_age, 1)},
            "partitions": {"ok": bool(assigned), "assigned": sorted(assigned)},
            "tables": {"ok": bool(self.rt.ready) and not self.app.rebalancing,
                       "recovered": bool(self.rt.ready)},
            "views": {"ok": self.views.caught_up, "lagRecords": self.views.lag()},
        }
        # stopping (SIGTERM): not ready, so a load balancer sends nothing more here
        ready = all(c["ok"] for c in checks.values()) and not self.rt.stopping
        return {"ready": ready, "checks": checks}

    def engine_metrics(self) -> list[Figure]:
        c = self.rt.counters
        rt = self.rt
        out: list[Figure] = [
            (f"rta_{name}_total", "counter", help_, float(c.get(name, 0)))
            for name, help_ in (
                ("routed", "input state events routed"),
                ("applied", "inputs applied by the reducers"),
                ("held", "state events held for an unknown ACD identity"),
                ("released", "held events released to their agent"),
                ("summaries", "day summaries published"),
                ("restored", "reducers restored from their snapshot"),
                ("pruned", "snapshots pruned to the lateness horizon"))]

        def by(label: str, values: dict[str, int]) -> Labelled:
            return Labelled((label,), {(k,): float(v) for k, v in values.items()})

        out += [
            ("rta_deadletter_total", "counter",
             "records sent to the dead-letter topic, by cause (malformed, future, horizon, "
             "hold_overflow, conflict, other)", by("reason", rt.deadletters)),
            ("rta_records_in_total", "counter",
             "records taken by the worker's steps, by topic", by("topic", rt.records_in)),
            ("rta_records_out_total", "counter",
             "records the worker's steps and timers sent (outputs, internal topics, "
             "changelogs), by topic", by("topic", rt.records_out)),
            ("rta_consumer_lag_records", "gauge",
             "records between the committed offsets of this worker's partitions and the "
             "log ends, by topic (measured every 5 s)", by("topic", rt.lag)),
            ("rta_status_latency_seconds", "histogram",
             "from a router taking a state event to the agent's status it led to being "
             "sent (wall clock; events held for an unknown identity not counted)",
             rt.status_latency),
            ("rta_snapshot_bytes", "gauge",
             "bytes of the agents' snapshots this worker holds (as in the changelog)",
             float(sum(rt.snapshot_bytes.values()))),
            ("rta_recovery_seconds", "gauge",
             "the last table recovery after an assignment, in seconds (NaN before one)",
             float(rt.recovery_seconds)),
        ]
        out += [
            ("rta_reducers", "gauge", "agents held in memory by this worker",
             float(len(self.rt.reducers))),
            ("rta_ready", "gauge", "1 when /readyz passes", float(self.health()["ready"])),
            ("rta_view_lag_records", "gauge", "output records not yet in the query views",
             float(self.views.lag())),
            ("rta_view_summaries", "gauge", "day summaries kept for queries",
             float(self.views.summary_count())),
            ("rta_view_agents", "gauge", "agents with a live status",
             float(len(self.views.status))),
            ("rta_sessions", "gauge", "sessions known (not yet ended)",
             float(len(self.views.sessions))),
        ]
        if self.sink is not None:
            out += self.sink.metrics()
        for more in self.extra_metrics:
            out += more()
        return out

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


def api_service(backend: WorkerBackend, settings: WorkerSettings, tenants: TenantsConfig
                ) -> type[Service]:
    """A service started with the faust app: the query views and the HTTP server."""
    from aiohttp import web

    class ApiService(Service):
        runner: web.AppRunner | None = None

        async def on_start(self) -> None:
            await backend.views.start()
            api = Api(backend, Authenticator(tenants), ApiConfig(
                settings.api_max_body_bytes, settings.api_max_batch_items,
                settings.session_idle_seconds, settings.max_message_bytes), now_ms)
            self.runner = web.AppRunner(api.make_app(), access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, settings.web_bind, settings.web_port)
            await site.start()
            log.info("HTTP API on %s:%d (advertised as %s)", settings.web_bind,
                     settings.web_port, settings.advertised_url)

        @Service.timer(min(60.0, settings.session_idle_seconds / 2))
        async def _sweep_sessions(self) -> None:
            if backend.views.caught_up:
                idle_ms = settings.session_idle_seconds * 1000
                try:
                    await backend.sessions.sweep(now_ms(), idle_ms, min(3_600_000, idle_ms))
                except Exception:  # a timer that raises would stop the worker
                    log.warning("sessions sweep failed; trying again next time", exc_info=True)

        async def on_stop(self) -> None:
            backend.feed.close_all()  # open event streams end: their pages reconnect
            if self.runner is not None:
                await self.runner.cleanup()
            await backend.close()
            await backend.views.stop()

    return ApiService
