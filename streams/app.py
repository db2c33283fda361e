"""The faust app: topics, tables, agents and timers around the pure core.

Data flow (all topics have the same number of partitions):

    rta.agent-state --route_states--> (directory hit)  rta-agent-input  (key tenant:agent)
                                  \\-> (miss) held[identity]
    rta.schedule ---route_schedules--> rta-agent-input
                                  \\-> rta-directory (key tenant:server:acd)
    rta-directory --directory_updates--> directory[identity] = agent, releases held events
    rta-agent-input --reducers--> AgentReducer (core) --> rta.agent-status, rta.alerts,
                                                          rta.adherence (timer), rta.deadletter

``directory`` and ``held`` are keyed by identity and co-partitioned with
rta.agent-state; ``agents`` (the reducer snapshots) with rta-agent-input.
Everything is at-least-once: inputs are idempotent in the core (event ids,
window replacement), outputs are upserts keyed as INTERFACES.md says.
"""

from __future__ import annotations

import heapq
import logging
import time
from typing import Any

import faust
import orjson
from aiokafka.partitioner import DefaultPartitioner

from rta.agent import AgentReducer, TenantContext
from rta.config import TenantsConfig
from rta.engine import bound_hold, future_rejection, hold_overflow_reason
from rta.models import parse_schedule, parse_state_event
from rta.outputs import AlertOut, Output, Rejected, StatusOut
from rta.schedule import resolve_activities
from rta.states import LOGOUT
from streams.codec import (
    DecodeError,
    agent_key,
    dead_letter,
    decode_schedule,
    decode_state,
    encode,
    identity_key,
)
from streams.settings import WorkerSettings

log = logging.getLogger("rta.worker")


def now_ms() -> int:
    return int(time.time() * 1000)


class Runtime:
    """What one worker keeps in memory: reducers of its partitions, timers."""

    def __init__(self, settings: WorkerSettings, tenants: TenantsConfig) -> None:
        self.settings = settings
        self.tenants = tenants
        self.contexts: dict[str, TenantContext] = {}
        self.reducers: dict[str, AgentReducer] = {}
        self.deadlines: list[tuple[int, str]] = []  # (when, agent key), a heap
        self.due: dict[str, int] = {}  # the live deadline of each agent
        self.refresh: list[tuple[int, str]] = []
        self.refreshing: set[str] = set()
        self.pending: set[str] = set()  # agents whose changed summaries are to be emitted
        self.partitioner = DefaultPartitioner()
        self.counters: dict[str, int] = {}
        self.processed: dict[int, int] = {}  # agent-input partition -> last offset done
        self.highwater: Any = None  # (partition) -> log end offset, set by build_app

    def caught_up(self, partition: int) -> bool:
        """No backlog left on this agent-input partition (live mode)."""
        done = self.processed.get(partition)
        if done is None or self.highwater is None:
            return True
        try:
            end = self.highwater(partition)
        except Exception:  # not assigned (any more), or no fetch yet
            return True
        return end is None or done + 1 >= end

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def context(self, tenant_id: str) -> TenantContext:
        ctx = self.contexts.get(tenant_id)
        if ctx is None:
            ctx = self.contexts[tenant_id] = TenantContext(tenant_id, self.tenants.get(tenant_id))
        return ctx

    def partition_of(self, key: str) -> int:
        parts = list(range(self.settings.partitions))
        return int(self.partitioner(key.encode(), parts, parts))

    def schedule_deadline(self, akey: str, reducer: AgentReducer, now: int) -> None:
        when = reducer.next_deadline(now)
        if when is None:
            self.due.pop(akey, None)
            return
        if self.due.get(akey) != when:
            self.due[akey] = when
            heapq.heappush(self.deadlines, (when, akey))
        if akey not in self.refreshing:
            self.refreshing.add(akey)
            period = int(self.settings.refresh_seconds * 1000)
            # spread refreshes over the period instead of one burst
            first = now + (hash(akey) % period)
            heapq.heappush(self.refresh, (first, akey))


def build_app(settings: WorkerSettings, tenants: TenantsConfig) -> faust.App:
    p = settings.partitions
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=p,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=0,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_commit_interval=settings.broker_commit_interval,
        producer_linger=settings.producer_linger,
        producer_max_batch_size=settings.producer_max_batch_size,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    rt = Runtime(settings, tenants)
    app.rta_runtime = rt  # type: ignore[attr-defined]

    def topic(name: str, **kw: Any) -> Any:
        return app.topic(name, partitions=p, key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw", **kw)

    state_in = topic(settings.topic_state)
    schedule_in = topic(settings.topic_schedule)
    adherence_out = topic(settings.topic_adherence, compacting=True)
    status_out = topic(settings.topic_status, compacting=True)
    alerts_out = topic(settings.topic_alerts)
    deadletter_out = topic(settings.topic_deadletter)
    directory_topic = topic(f"{settings.app_id}-directory", internal=True)
    agent_input = topic(f"{settings.app_id}-agent-input", internal=True)

    def table(name: str) -> Any:
        schema: Any = faust.Schema(key_type=str, key_serializer="json",
                                   value_serializer="json")
        return app.Table(name, default=None, partitions=p, schema=schema)

    directory = table("directory")  # identity -> agent key (within the tenant)
    held = table("held")  # identity -> [[timestamp, seq, event json], ...]
    agents = table("agents")  # tenant:agent -> reducer snapshot

    async def to_deadletter(event: Any, reason: str) -> None:
        msg = event.message
        rt.count("deadletter")
        await deadletter_out.send(key=msg.key, value=dead_letter(
            msg.topic, msg.partition, msg.offset, msg.key, msg.value, reason, now_ms()))

    async def reject(source_key: bytes | None, rej: Rejected, topic_name: str) -> None:
        rt.count("deadletter")
        await deadletter_out.send(key=source_key, value=dead_letter(
            topic_name, None, None, source_key, encode(rej.payload), rej.reason, now_ms()))

    async def emit(outs: list[Output], source_key: bytes | None) -> list[Any]:
        """Send the outputs; returns the delivery futures of the alerts.

        Alerts are recorded as sent in the agent's snapshot, so their delivery is
        awaited before the snapshot is written. A status is superseded by the next
        one (compacted topic), so it is not waited for.
        """
        futures = []
        for o in outs:
            if isinstance(o, AlertOut):
                futures.append(await alerts_out.send(key=o.key.encode(), value=encode(o.alert)))
            elif isinstance(o, StatusOut):
                await status_out.send(key=o.key.encode(), value=encode(o.status))
            elif isinstance(o, Rejected):
                await reject(source_key, o, settings.topic_state)
        return futures

    async def delivered(futures: list[Any]) -> None:
        """Wait until the broker has these records. A step's table write must come
        after its sends are acknowledged: a crash in between then replays the step
        with the table as before, instead of skipping sends that never happened."""
        for fut in futures:
            await fut

    async def decoded(event: Any, decode: Any) -> Any:
        """The validated message, or None after dead-lettering it with the reason."""
        try:
            return decode(event.value, settings.max_message_bytes)
        except DecodeError as exc:
            await to_deadletter(event, str(exc))
            return None

    @app.agent(state_in)
    async def route_states(stream: Any) -> None:
        async for event in stream.events():
            ev = await decoded(event, decode_state)
            if ev is None:
                continue
            try:
                ctx = rt.context(ev.tenant_id)
                too_far = future_rejection(ev, now_ms(), ctx.settings)
                if too_far is not None:
                    await to_deadletter(event, too_far)
                    continue
                ikey = identity_key(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)
                owner = directory.get(ikey)
                if owner is not None:
                    await agent_input.send(key=agent_key(ev.tenant_id, owner).encode(),
                                           value=encode({"kind": "state", "body": ev.to_json()}))
                    continue
                # unknown identity: hold, bounded by count and event-time span
                entry = [ev.timestamp, event.message.offset, ev.to_json()]
                items = [*(held.get(ikey) or []), entry]
                items.sort(key=lambda x: (x[0], x[1]))
                for _, _, old in bound_hold(items, ctx.settings):
                    await reject(event.message.key, Rejected(
                        hold_overflow_reason(ikey, ctx.settings), old), settings.topic_state)
                held[ikey] = items
                rt.count("held")
            except Exception as exc:  # the worker never dies of input
                log.exception("state event failed")
                await to_deadletter(event, f"internal error: {exc!r}")

    @app.agent(schedule_in)
    async def route_schedules(stream: Any) -> None:
        async for event in stream.events():
            msg = await decoded(event, decode_schedule)
            if msg is None:
                continue
            try:
                body = orjson.loads(event.value)
                akey = agent_key(msg.tenant_id, msg.agent_key)
                await agent_input.send(key=akey.encode(),
                                       value=encode({"kind": "schedule", "body": body}))
                for server, acd in msg.identities:
                    await directory_topic.send(
                        key=identity_key(msg.tenant_id, server, acd).encode(),
                        value=encode({"tenant": msg.tenant_id, "server": server, "acd": acd,
                                      "agent": msg.agent_key}))
            except Exception as exc:
                log.exception("schedule message failed")
                await to_deadletter(event, f"internal error: {exc!r}")

    @app.agent(directory_topic)
    async def directory_updates(stream: Any) -> None:
        async for event in stream.events():
            try:
                upd = orjson.loads(event.value)
                tenant, agent = upd["tenant"], upd["agent"]
                ikey = identity_key(tenant, upd["server"], upd["acd"])
                old = directory.get(ikey)
                if old != agent:
                    if old is not None:  # the identity moves, its events with it
                        await delivered([await agent_input.send(
                            key=agent_key(tenant, old).encode(), value=encode(
                                {"kind": "move", "identity": [upd["server"], upd["acd"]],
                                 "tenant": tenant, "to": agent}))])
                    directory[ikey] = agent
                items = held.get(ikey)
                if items:
                    await delivered([
                        await agent_input.send(key=agent_key(tenant, agent).encode(),
                                               value=encode({"kind": "state", "body": body}))
                        for _, _, body in sorted(items, key=lambda x: x[1])])  # arrival order
                    rt.count("released", len(items))
                    del held[ikey]
            except Exception as exc:
                log.exception("directory update failed")
                await to_deadletter(event, f"internal error: {exc!r}")

    from faust.types import TP

    def highwater(partition: int) -> int | None:
        return app.consumer.highwater(TP(agent_input.get_topic_name(), partition))

    rt.highwater = highwater

    def reducer_for(akey: str, tenant: str) -> AgentReducer:
        reducer = rt.reducers.get(akey)
        if reducer is None:
            snap = agents.get(akey)
            ctx = rt.context(tenant)
            if snap is None:
                reducer = AgentReducer(ctx, akey[len(tenant) + 1:])
            else:
                reducer = AgentReducer.restore(ctx, snap)
                # the previous owner may have stopped before emitting its last changes:
                # emit every day again (idempotent upserts)
                reducer.changed.update(reducer.candidate_days(now_ms()))
                reducer.changed.update(reducer.emitted)
                rt.pending.add(akey)
                rt.count("restored")
            rt.reducers[akey] = reducer
        return reducer

    @app.agent(agent_input)
    async def reducers(stream: Any) -> None:
        async for event in stream.events():
            try:
                akey = event.key.decode()
                data = orjson.loads(event.value)
                kind = data["kind"]
                tenant = data["body"]["tenantId"] if kind != "move" else data["tenant"]
                reducer = reducer_for(akey, tenant)
                partition = event.message.partition
                rt.processed[partition] = event.message.offset
                # Live, alerts are evaluated at the worker clock. Catching up on a
                # backlog (after a restart, say), they are evaluated in event time, so
                # the runs inside the backlog raise the alerts they raised live.
                live = rt.caught_up(partition)
                now = now_ms()
                outs: list[Output]
                if kind == "state":
                    ev = parse_state_event(data["body"])
                    reducer.add_identity(ev.identity)
                    outs = reducer.apply_state(ev.identity, ev.timestamp, ev.state, ev.reason,
                                               ev.event_id, now if live else ev.timestamp)
                elif kind == "schedule":
                    msg = parse_schedule(data["body"])
                    for ident in msg.identities:
                        reducer.add_identity(ident)
                    parts = resolve_activities(
                        msg.from_ts, msg.to_ts,
                        ((a.activity_type, a.start, a.end) for a in msg.activities),
                        reducer.ctx.rules)
                    outs = reducer.apply_schedule(msg.agent_id, msg.acd_agent_id, msg.from_ts,
                                                  msg.to_ts, parts, now if live else None)
                else:  # move: the identity belongs to another agent now
                    server, acd = data["identity"]
                    tl = reducer.remove_identity((server, acd))
                    to = agent_key(tenant, data["to"]).encode()
                    forwards = []
                    for e in tl.entries if tl is not None else []:
                        body = {"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
                                "gisStateIdentifier": e.state, "timestamp": e.ts,
                                "reasonCode": e.reason}
                        if e.eid:
                            body["eventId"] = e.eid
                        forwards.append(await agent_input.send(
                            key=to, value=encode({"kind": "state", "body": body})))
                    await delivered(forwards)
                    outs = reducer.tick(now) if live else []
                await delivered(await emit(outs, event.message.key))
                agents[akey] = reducer.snapshot()
                rt.pending.add(akey)
                rt.schedule_deadline(akey, reducer, now)
            except Exception as exc:
                log.exception("agent input failed")
                await to_deadletter(event, f"internal error: {exc!r}")

    @app.timer(interval=settings.tick_seconds)
    async def alert_timer() -> None:
        now = now_ms()
        while rt.deadlines and rt.deadlines[0][0] <= now:
            when, akey = heapq.heappop(rt.deadlines)
            reducer = rt.reducers.get(akey)
            if reducer is None or rt.due.get(akey) != when:
                continue  # revoked, or superseded by a newer deadline
            if not rt.caught_up(rt.partition_of(akey)):
                heapq.heappush(rt.deadlines, (when + 1000, akey))  # backlog first
                rt.due[akey] = when + 1000
                continue
            del rt.due[akey]
            await emit(reducer.tick(now), None)  # alert state is saved with the next input
            rt.pending.add(akey)
            rt.schedule_deadline(akey, reducer, now)
        period = int(settings.refresh_seconds * 1000)
        while rt.refresh and rt.refresh[0][0] <= now:
            when, akey = heapq.heappop(rt.refresh)
            reducer = rt.reducers.get(akey)
            if reducer is None:
                rt.refreshing.discard(akey)
                continue
            if reducer.eff.current[0] != LOGOUT:
                reducer.changed.add(reducer.ctx.calendar.ordinal(now))
                rt.pending.add(akey)
            heapq.heappush(rt.refresh, (when + period, akey))

    @app.timer(interval=settings.emit_seconds)
    async def emit_summaries() -> None:
        now = now_ms()
        pending, rt.pending = rt.pending, set()
        for akey in pending:
            reducer = rt.reducers.get(akey)
            if reducer is None:
                continue
            for out in reducer.build_changed(now):
                value = None if out.summary is None else encode({**out.summary, "asOf": now})
                await adherence_out.send(key=out.key.encode(), value=value)
                rt.count("summaries")

    def forget(tps: Any) -> None:
        """Drop in-memory reducers of these partitions: after a rebalance they must
        come back from the recovered table, never from a copy that may be stale."""
        parts = {tp.partition for tp in tps if tp.topic == agent_input.get_topic_name()}
        for akey in [k for k in rt.reducers if rt.partition_of(k) in parts]:
            del rt.reducers[akey]
            rt.due.pop(akey, None)
            rt.refreshing.discard(akey)
            rt.pending.discard(akey)

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        forget(revoked)

    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        forget(assigned)

    app.on_partitions_revoked.connect(_revoked)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(_assigned)  # type: ignore[arg-type]

    @app.timer(interval=2.0)
    async def restore_assigned() -> None:
        """After a restart or rebalance, bring back the reducers of assigned partitions
        (not only those with new input), so their timers run."""
        if app.rebalancing or app.in_recovery:
            return  # the table may still be replaying its changelog
        assigned = {tp.partition for tp in app.consumer.assignment()
                    if tp.topic == agent_input.get_topic_name()}
        now = now_ms()
        for akey in list(agents.keys()):
            if akey in rt.reducers or rt.partition_of(akey) not in assigned:
                continue
            snap = agents.get(akey)
            if snap is None:
                continue
            tenant = akey.rsplit(":", 1)[0] if ":" in akey else akey
            reducer = reducer_for(akey, tenant)
            rt.schedule_deadline(akey, reducer, now)

    return app
