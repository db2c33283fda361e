"""Many agents of many tenants: the directory, held events, and routing.

``Engine`` is what ``rta replay``, the history recompute and the core benchmark
drive (the stream worker keeps one ``AgentReducer`` per agent instead, and its
directory step applies the same rules). State events name an ACD identity; the
directory (built from schedule messages) resolves it to an agent. Events of
an identity not yet known are held, bounded per identity, and applied when a
schedule message names the identity; held events pushed out by the bounds
are returned as :class:`Rejected` (dead letters), never dropped silently.
The routing rules themselves are :mod:`rta.directory`, which the stream
worker's directory step uses too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rta.agent import AgentReducer, TenantContext
from rta.config import TenantsConfig
from rta.directory import (
    Held,
    Rank,
    future_rejection,
    hold,
    hold_overflow_reason,
    map_identity,
    release,
)
from rta.models import ScheduleMessage, StateEvent
from rta.outputs import DaySummaryOut, Output, Rejected
from rta.schedule import resolve_activities
from rta.summary import agent_sort_key
from rta.timeline import IdentityTimeline

IdentityKey = tuple[str, str, str]  # tenant, acdServerId, acdAgentId
AgentKey = tuple[str, str]  # tenant, agent key


class Engine:
    def __init__(self, tenants: TenantsConfig | None = None) -> None:
        self.tenants = tenants or TenantsConfig()
        self._contexts: dict[str, TenantContext] = {}
        self.agents: dict[AgentKey, AgentReducer] = {}
        self.directory: dict[IdentityKey, str] = {}
        self.ranks: dict[IdentityKey, Rank] = {}  # the rank of each identity's mapping
        self.held: dict[IdentityKey, list[Held]] = {}
        self._seq = 0
        self.counters: Counter[str] = Counter()
        self.touched: set[AgentKey] = set()  # agents with input since the last build

    def context(self, tenant_id: str) -> TenantContext:
        ctx = self._contexts.get(tenant_id)
        if ctx is None:
            ctx = self._contexts[tenant_id] = TenantContext(tenant_id,
                                                            self.tenants.get(tenant_id))
        return ctx

    # ------------------------------------------------------------------ state events
    def apply_state(self, ev: StateEvent, now: int | None = None) -> list[Output]:
        ctx = self.context(ev.tenant_id)
        too_far = None if now is None else future_rejection(ev, now, ctx.settings)
        if too_far is not None:
            self.counters["rejected_future"] += 1
            return [Rejected(too_far, ev.to_json(), cause="future")]
        key = (ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)
        agent_key = self.directory.get(key)
        if agent_key is None:
            return self._hold(ctx, key, ev)
        agent = self.agents[(ev.tenant_id, agent_key)]
        self.touched.add((ev.tenant_id, agent_key))
        outs = agent.apply_state(ev.identity, ev.timestamp, ev.state, ev.reason, ev.event_id, now,
                                 chat=ev.chat)
        return self._count(outs, ev)

    def _count(self, outs: list[Output], ev: StateEvent) -> list[Output]:
        if not outs or not any(isinstance(o, Rejected) for o in outs):
            self.counters["applied"] += 1
            return outs
        fixed: list[Output] = []
        for o in outs:
            if isinstance(o, Rejected):
                late = "horizon" in o.reason
                self.counters["rejected_late" if late else "rejected_conflict"] += 1
                o = Rejected(o.reason, ev.to_json(), cause=o.cause)
            fixed.append(o)
        return fixed

    def _hold(self, ctx: TenantContext, key: IdentityKey, ev: StateEvent) -> list[Output]:
        self._seq += 1
        dropped = hold(self.held.setdefault(key, []), [(ev.timestamp, self._seq, ev)],
                       ctx.settings)
        self.counters["held"] += 1
        self.counters["rejected_held_overflow"] += len(dropped)
        reason = hold_overflow_reason("/".join(key[1:]) + f" of tenant {key[0]}", ctx.settings)
        return [Rejected(reason, old.to_json(), cause="hold_overflow") for old in dropped]

    # ------------------------------------------------------------------ schedules
    def apply_schedule(self, msg: ScheduleMessage, now: int | None = None) -> list[Output]:
        ctx = self.context(msg.tenant_id)
        agent_key = msg.agent_key
        agent = self.agents.get((msg.tenant_id, agent_key))
        if agent is None:
            agent = self.agents[(msg.tenant_id, agent_key)] = AgentReducer(ctx, agent_key)
        outs: list[Output] = []
        for server, acd in msg.identities:
            key = (msg.tenant_id, server, acd)
            mapping = map_identity(self.directory.get(key), self.ranks.get(key), {},
                                   agent_key, (msg.from_ts, agent_key))
            if mapping.rank is not None:
                self.ranks[key] = mapping.rank
            if mapping.change in ("same", "older"):
                continue
            timeline = None
            if mapping.previous is not None:  # a move: the timeline goes with it
                timeline = self.agents[(msg.tenant_id, mapping.previous)].remove_identity(
                    (server, acd), agent_key)
                self.touched.add((msg.tenant_id, mapping.previous))
                self.counters["identities_moved"] += 1
            held = self.held.pop(key, None)
            if held:
                timeline = timeline or IdentityTimeline()
                for ev in release(held):
                    res = timeline.add(ev.timestamp, ev.state, ev.reason, ev.event_id)
                    if ev.chat is not None and res.status != "conflict":
                        timeline.offer_chat((ev.timestamp, None, *ev.chat))
                    if res.status == "conflict":
                        self.counters["rejected_conflict"] += 1
                        outs.append(Rejected(
                            f"eventId {ev.event_id!r} was already applied with another body",
                            ev.to_json(), cause="conflict"))
                self.counters["released"] += len(held)
            self.directory[key] = agent_key
            agent.add_identity((server, acd), timeline)
        self.touched.add((msg.tenant_id, agent_key))
        parts = resolve_activities(msg.from_ts, msg.to_ts,
                                   ((a.activity_type, a.start, a.end) for a in msg.activities),
                                   ctx.rules)
        self.counters["schedules"] += 1
        outs.extend(agent.apply_schedule(msg.agent_id, msg.acd_agent_id, msg.from_ts,
                                         msg.to_ts, parts, now, team=msg.team,
                                         name=msg.agent_name))
        return outs

    # ------------------------------------------------------------------ results
    def tick(self, now: int) -> list[Output]:
        outs: list[Output] = []
        for agent in self.agents.values():
            outs.extend(agent.tick(now))
        return outs

    def summaries(self, as_of: int | None = None) -> list[dict[str, Any]]:
        """Every day summary, ordered by tenant, date, agent."""
        rows: list[DaySummaryOut] = []
        for agent in self.agents.values():
            rows.extend(agent.build_all(as_of))
        return [r.summary for r in sort_summaries(rows) if r.summary is not None]

    def build_changed(self, as_of: int | None = None,
                      agents: Iterable[AgentKey] | None = None) -> list[DaySummaryOut]:
        """Summaries of changed days of the agents touched since the last call (or of
        ``agents``, e.g. those a refresh timer is due for)."""
        keys = self.touched if agents is None else set(agents)
        rows: list[DaySummaryOut] = []
        for key in keys:
            agent = self.agents.get(key)
            if agent is not None:
                rows.extend(agent.build_changed(as_of))
        if agents is None:
            self.touched = set()
        return sort_summaries(rows)

    def held_count(self) -> int:
        return sum(len(v) for v in self.held.values())

    def held_identities(self) -> list[str]:
        """``tenant/acdServerId/acdAgentId`` of identities with held events."""
        return sorted("/".join(k) for k, v in self.held.items() if v)


def sort_summaries(rows: Iterable[DaySummaryOut]) -> list[DaySummaryOut]:
    return sorted(rows, key=lambda r: (r.tenant_id, r.date, agent_sort_key(r.agent_key)))
