"""The per-agent adherence reducer.

``AgentReducer`` holds one agent's identities, effective timeline, schedule,
day accumulators and alert state, and is driven by ``apply_state``,
``apply_schedule`` and ``tick``; each returns the outputs it caused.

Accounting invariant: with ``acc_f`` the accounting frontier (the start of a
run, trailing the newest event by ``ACCOUNTING_LAG_MS``), every clean day in
``days`` holds exactly the accounting of ``[day start, min(day end, acc_f))``.
Days in ``dirty`` are rebuilt from the timeline when next built; runs after
the frontier are accounted at build time. An in-order event advances the
frontier over the runs it passed (O(1) amortised); a later-than-the-lag event
or a schedule change marks only the days it touches as dirty.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterator
from typing import Any

from rta.accounting import DayAcc, account, account_in_day, merged
from rta.calendar import DayCalendar
from rta.config import TenantSettings
from rta.outputs import AlertOut, DaySummaryOut, Output, RecomputeNeeded, Rejected, StatusOut
from rta.rules import Adherence, Rules
from rta.schedule import AgentSchedule, Part
from rta.states import IN_SERVICE_STATES, LOGOUT, RTAS_NAMES, STATE_NAMES
from rta.summary import build_summary
from rta.timeline import (
    LOGGED_OUT,
    Chat,
    EffectiveTimeline,
    Entry,
    IdentityTimeline,
    Reason,
    Value,
    effective,
)

Identity = tuple[str, str]
OUT = Adherence.OUT
#: Runs starting within this much event time of the agent's newest event are not
#: yet accounted into the day caches (see AgentReducer._advance_accounting).
ACCOUNTING_LAG_MS = 60_000
MAX_TS = 1 << 62


class TenantContext:
    """What every agent of one tenant shares: settings, calendar, rules."""

    __slots__ = ("calendar", "horizon_ms", "rules", "settings", "tenant_id", "tolerance_ms")

    def __init__(self, tenant_id: str, settings: TenantSettings) -> None:
        self.tenant_id = tenant_id
        self.settings = settings
        self.calendar = DayCalendar(settings.zone)
        self.rules: Rules = settings.rules
        self.tolerance_ms = settings.switch_tolerance_seconds * 1000
        self.horizon_ms = settings.lateness_horizon_seconds * 1000


class AlertState:
    """What the alert rules carry from one evaluation to the next (SEMANTICS.md,
    "Alerts"): the alerts themselves (``covered``, ``open_start``), the first
    evaluation time and where the timeline changed since the last evaluation.
    Everything else is read off the timeline again."""

    __slots__ = ("blind", "covered", "cursor", "dirty_from", "open_start", "origin",
                 "pending", "run_start")

    def __init__(self) -> None:
        self.cursor: int | None = None  # evaluated up to and including this instant
        self.origin: int | None = None  # first evaluation: runs over by then raise nothing
        # the origin was set by an evaluation that saw no state event of the agent (a
        # timer tick after a schedule): the first events lower it (see _eval_alerts)
        self.blind = False
        self.covered: list[list[int]] = []  # ended alerts [start, end), sorted, disjoint
        self.open_start: int | None = None  # run with ALERT_STARTED and no ALERT_ENDED
        self.pending: int | None = None  # uncovered OUT run holding at cursor, below threshold
        self.run_start: int | None = None  # OUT run (of the timeline) holding at cursor
        self.dirty_from: int | None = None  # earliest change at or before cursor since

    def mark(self, t: int) -> None:
        """The timeline or schedule changed from instant ``t`` on."""
        if self.cursor is not None and t <= self.cursor and (
                self.dirty_from is None or t < self.dirty_from):
            self.dirty_from = t

    def last_cut(self, t: int) -> int | None:
        """The latest end of covered time at or before instant ``t``."""
        i = bisect_right(self.covered, [t, MAX_TS]) - 1
        while i >= 0 and self.covered[i][1] > t:
            i -= 1
        return self.covered[i][1] if i >= 0 else None

    def cover(self, start: int, end: int) -> None:
        insort(self.covered, [start, max(end, start + 1)])  # at least its start instant

    def forget_before(self, floor: int) -> None:
        """Ended alerts over before ``floor`` can no longer cut a run (none is
        evaluated before the floor)."""
        self.covered = [c for c in self.covered if c[1] > floor]

    @classmethod
    def restore(cls, snap: dict[str, Any] | list[Any]) -> AlertState:
        st = cls()
        if isinstance(snap, dict):
            st.cursor, st.origin, st.open_start = snap["cursor"], snap["origin"], snap["open"]
            st.covered = [list(c) for c in snap["covered"]]
            st.pending, st.run_start = snap["pending"], snap["runStart"]
            st.dirty_from = snap["dirtyFrom"]
            st.blind = bool(snap.get("blind", False))
            return st
        # the first format, [cursor, run start, open alert, last ended alert, recheck]:
        # nothing before its cursor is revisited (as then), and the last ended alert
        # covers up to the run holding at the cursor (its end was not kept)
        st.cursor, run_start, st.open_start, last_ended = snap[:4]
        st.origin = st.cursor
        st.run_start = run_start
        if last_ended is not None and st.cursor is not None:
            end = run_start if run_start is not None and run_start > last_ended else st.cursor
            st.cover(last_ended, end)
        if run_start is not None and st.open_start is None and run_start != last_ended:
            st.pending = run_start
        if len(snap) > 4 and snap[4]:
            st.dirty_from = st.cursor
        return st


class AgentReducer:
    __slots__ = (
        "_order",
        "acc_f",
        "acd_agent_id",
        "agent_id",
        "agent_key",
        "agent_name",
        "alerts",
        "changed",
        "ctx",
        "days",
        "dirty",
        "eff",
        "eff_version",
        "emitted",
        "floor",
        "identities",
        "last_status",
        "moved",
        "newest",
        "open_sig",
        "schedule",
        "schedule_pos",
        "team",
    )

    def __init__(self, ctx: TenantContext, agent_key: str) -> None:
        self.ctx = ctx
        self.agent_key = agent_key
        self.agent_id: int | str = agent_key
        self.acd_agent_id = ""
        self.identities: dict[Identity, IdentityTimeline] = {}
        self._order: list[IdentityTimeline] = []
        self.schedule = AgentSchedule()
        self.eff = EffectiveTimeline()
        self.newest: int | None = None
        self.days: dict[int, DayAcc] = {}
        self.dirty: set[int] = set()
        self.changed: set[int] = set()
        self.emitted: set[int] = set()
        self.alerts = AlertState()
        self.last_status: tuple[Any, ...] | None = None
        self.open_sig: tuple[int | None, int, int | None] | None = None
        self.acc_f: int | None = None  # accounting frontier: a run start, see above
        self.eff_version = 0
        self.floor: int | None = None  # days before the one starting here are final
        # identities that moved to another agent (identity -> that agent's key): their
        # events still on the way here, routed before the move, are sent on there
        self.moved: dict[Identity, str] = {}
        # schedule partition -> offset of the latest message applied from it (see
        # apply_schedule)
        self.schedule_pos: dict[int, int] = {}
        # for people: the team and name the latest schedule message naming them gave
        self.team: str | None = None
        self.agent_name: str | None = None

    # ------------------------------------------------------------------ persistence
    SNAPSHOT_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to rebuild this reducer exactly (JSON-ready).

        Derived state (effective timeline, day caches) is not stored: ``restore``
        rebuilds it from the identities' events and the schedule.
        """
        st = self.alerts
        return {
            "v": self.SNAPSHOT_VERSION,
            "agentKey": self.agent_key,
            "agentId": self.agent_id,
            "acdAgentId": self.acd_agent_id,
            "identities": [
                [server, acd, [[e.ts, e.eid, e.state, e.reason,
                                *([e.pos, *e.copies] if e.pos is not None else [])]
                               for e in tl.entries],
                 # its earliest instant, where older entries were dropped (prune)
                 *([tl.first] if tl.first is not None and (
                     not tl.entries or tl.first < tl.entries[0].ts) else [])]
                for (server, acd), tl in sorted(self.identities.items())
            ],
            "schedule": [list(p) for p in self.schedule.parts],
            "alerts": {"cursor": st.cursor, "origin": st.origin, "open": st.open_start,
                       "covered": [list(c) for c in st.covered], "pending": st.pending,
                       "runStart": st.run_start, "dirtyFrom": st.dirty_from,
                       "blind": st.blind},
            "emitted": sorted(self.emitted),
            "status": list(self.last_status) if self.last_status is not None else None,
            "floor": self.floor,
            "moved": [[server, acd, to] for (server, acd), to in sorted(self.moved.items())],
            # the latest place in the log applied per identity, where that entry was
            # dropped (prune): a copy of it read again is known as one
            "schedulePos": sorted([p, o] for p, o in self.schedule_pos.items()),
            "maxPos": [[server, acd, tl.max_pos] for (server, acd), tl
                       in sorted(self.identities.items())
                       if tl.max_pos is not None and tl.max_pos > max(
                           (e.pos for e in tl.entries if e.pos is not None), default=-1)],
            # each identity's latest chat figures: [server, acd, timestamp, place in the
            # log, chatCapacity, chatsInProgress] (absent from older snapshots: none)
            "chat": [[server, acd, *tl.chat] for (server, acd), tl
                     in sorted(self.identities.items()) if tl.chat is not None],
            # (absent from older snapshots: none known)
            "team": self.team,
            "name": self.agent_name,
        }

    @classmethod
    def restore(cls, ctx: TenantContext, snap: dict[str, Any]) -> AgentReducer:
        if snap.get("v") != cls.SNAPSHOT_VERSION:
            raise ValueError(f"unknown agent snapshot version {snap.get('v')!r}")
        agent = cls(ctx, snap["agentKey"])
        agent.agent_id = snap["agentId"]
        agent.acd_agent_id = snap["acdAgentId"]
        agent.schedule = AgentSchedule(Part(*p) for p in snap["schedule"])
        for server, acd, entries, *first in snap["identities"]:
            tl = IdentityTimeline()
            for ts, eid, state, reason, *places in entries:  # (places in the log)
                for pos in places or [None]:
                    tl.add(ts, state, reason, eid or None, pos)
            if first and (tl.first is None or first[0] < tl.first):
                tl.first = first[0]
            agent.add_identity((server, acd), tl)
        agent.alerts = AlertState.restore(snap["alerts"])
        agent.emitted = set(snap["emitted"])
        agent.last_status = tuple(snap["status"]) if snap["status"] is not None else None
        agent.changed = set()
        agent.floor = snap.get("floor")
        agent.moved = {(server, acd): to for server, acd, to in snap.get("moved", [])}
        for tl in agent.identities.values():
            tl.floor = agent.floor
        agent.schedule_pos = {p: o for p, o in snap.get("schedulePos", [])}
        for server, acd, pos in snap.get("maxPos", []):
            known = agent.identities.get((server, acd))
            if known is not None and (known.max_pos is None or pos > known.max_pos):
                known.max_pos = pos
        for server, acd, ts, pos, capacity, in_progress in snap.get("chat", []):
            agent.offer_chat((server, acd), (ts, pos, capacity, in_progress))
        agent.team = snap.get("team")
        agent.agent_name = snap.get("name")
        return agent

    # ------------------------------------------------------------------ retention
    def prune(self, at: int | None = None, watermark: int | None = None) -> bool:
        """Forget the history the lateness horizon no longer reaches; True if it moved.

        The floor is the start of the day holding the horizon's reach (see
        ``_horizon_reach``: ``newest - horizon`` of a single channel). Days before
        it are final: they are never built or published again, and state events
        before the floor are rejected (the horizon rejects them anyway, except for
        a dormant channel). Each identity keeps its entries from its last instant
        before the floor, so every state from the floor on, and so every day from
        the floor on, is exactly what the whole history gives. Schedule parts
        ending before the floor are dropped. Cost: one pass over the agent's
        history, once per agent per day of event time.

        ``watermark`` (the worker's input watermark: every input partition has been
        read up to this event time) bounds the reach: a channel whose events come
        through a partition that is read more slowly keeps its history until the
        partition has caught up (see ``_horizon_reach``).

        A day with changes not yet built (``changed``) is never made final: its
        summary must be published first (``build_changed``), then the floor may
        pass it.

        ``at`` (a day start) raises the floor at least that far, and drops entries
        before it even when the floor does not move: an identity moved here from
        an agent whose floor is ``at`` has no history before it.
        """
        cal = self.ctx.calendar
        floor = at
        reach = self._horizon_reach(watermark)
        if reach is not None:
            horizon = cal.bounds(cal.ordinal(reach))[0]
            if self.changed:
                horizon = min(horizon, cal.bounds(min(self.changed))[0])
            floor = horizon if floor is None else max(floor, horizon)
        if floor is None:
            return False
        if self.floor is not None:
            if floor <= self.floor and at is None:
                return False
            floor = max(floor, self.floor)
        first = cal.ordinal(floor)
        self.floor = floor
        dropped = False
        for tl in self._order:
            dropped = tl.drop_before(floor) or dropped
        if dropped:
            # the same changes from the floor on; only the start of the run holding at
            # the floor may move later (to the first instant kept)
            eff = EffectiveTimeline()
            earliest = self._earliest()
            if earliest is not None:
                eff.rebuild_from(earliest, self._order)
            self.eff = eff
            if self.acc_f is not None and self.acc_f < floor:
                i = eff.index_at(floor)
                if i >= 0:
                    self.acc_f = eff.times[i]
                else:
                    self._drop_accounting()
        for o in [o for o in self.days if o < first]:
            del self.days[o]
        self.dirty = {o for o in self.dirty if o >= first}
        self.changed = {o for o in self.changed if o >= first}
        self.emitted = {o for o in self.emitted if o >= first}
        self.schedule.drop_before(floor)
        self.alerts.forget_before(floor)
        return True

    def _floor_day(self) -> int | None:
        """The first day that is not final (None: no day is)."""
        return None if self.floor is None else self.ctx.calendar.ordinal(self.floor)

    def _horizon_reach(self, watermark: int | None = None) -> int | None:
        """The oldest instant a state event may still be applied at: the lateness
        horizon before the newest event of the identity that lags most (channels of
        one agent arrive through different partitions, one ahead of the other), and
        never beyond the horizon before the input ``watermark``: an identity's next
        event may still be on its way through a partition not read that far.
        An identity with nothing within the horizon of the agent's newest event
        (and of the watermark) is dormant and does not hold the floor back: an event
        of it older than the floor comes after the watermark passed, and is late
        beyond what the worker keeps."""
        if self.newest is None:
            return None
        h = self.ctx.horizon_ms
        top = self.newest if watermark is None else min(self.newest, watermark)
        active = [tl.newest for tl in self._order
                  if tl.newest is not None and tl.newest >= top - h]
        return min(*active, top) - h

    # ------------------------------------------------------------------ identities
    def add_identity(self, identity: Identity,
                     timeline: IdentityTimeline | None = None) -> None:
        if identity in self.identities:
            return
        self.moved.pop(identity, None)
        tl = timeline if timeline is not None else IdentityTimeline()
        if self.floor is not None:
            tl.drop_before(self.floor)  # only final days would see the rest
        self.identities[identity] = tl
        self._order = [self.identities[k] for k in sorted(self.identities)]
        first = self.identities[identity].times[0] if timeline and len(timeline) else None
        if timeline is not None and timeline.newest is not None:
            self.newest = timeline.newest if self.newest is None else max(self.newest,
                                                                         timeline.newest)
        earliest = self._earliest()
        if earliest is not None and (first is not None or len(self._order) > 1):
            # a new channel can change the effective state (even while LOGOUT: the reason)
            self._history_changed(earliest if first is None else min(first, earliest))
        if timeline is not None and timeline.floor is not None and (
                self.floor is None or timeline.floor > self.floor):
            # pruned by its previous agent: the days before its floor cannot be
            # recomputed here, so they are final here too
            self.prune(at=timeline.floor)

    def remove_identity(self, identity: Identity, to: str | None = None
                        ) -> IdentityTimeline | None:
        """The identity belongs to agent ``to`` now: its timeline, to go there."""
        if to is not None and to != self.agent_key:
            self.moved[identity] = to
        tl = self.identities.pop(identity, None)
        if tl is None:
            return None
        self._order = [self.identities[k] for k in sorted(self.identities)]
        self.newest = max((t.newest for t in self._order if t.newest is not None), default=None)
        earliest = self._earliest(tl)
        if earliest is not None:
            self._history_changed(earliest)
        return tl

    def final_days_moved(self, identity: Identity, tl: IdentityTimeline,
                         to: str) -> list[Output]:
        """An identity moved to agent ``to`` with history this agent had already made
        final (days before its floor, no longer in memory): both agents' days there
        count it on the wrong agent, and only a recompute from the stored history can
        move it (its latest mapping applies to all its events)."""
        span = tl.dropped_span()
        if span is None:
            return []
        cal = self.ctx.calendar
        first, last = cal.iso(cal.ordinal(span[0])), cal.iso(cal.ordinal(span[1]) - 1)
        if last < first:
            return []
        moved = {"acdServerId": identity[0], "acdAgentId": identity[1],
                 "from": self.agent_key, "to": to}
        return [RecomputeNeeded(self.ctx.tenant_id, agent, first, last, moved=moved)
                for agent in (self.agent_key, to)]

    def offer_chat(self, identity: Identity, chat: Chat) -> None:
        """Chat figures of one of the agent's identities (an event's, or those an
        identity moved here had): kept if they are its latest (``IdentityTimeline.
        offer_chat``)."""
        tl = self.identities.get(identity)
        if tl is not None:
            tl.offer_chat(chat)

    def chat_figures(self, now: int) -> tuple[int | None, int | None]:
        """``(chatCapacity, chatsInProgress)`` of the live status: each the sum over
        the identities logged in at ``now`` whose latest figures have it (None: none
        has; so None whenever the agent is logged out)."""
        capacity: int | None = None
        in_progress: int | None = None
        for tl in self._order:
            if tl.chat is None or tl.value_at(now)[0] == LOGOUT:
                continue
            _, _, cap, chats = tl.chat
            if cap is not None:
                capacity = cap if capacity is None else capacity + cap
            if chats is not None:
                in_progress = chats if in_progress is None else in_progress + chats
        return capacity, in_progress

    def moved_to(self, identity: Identity) -> str | None:
        """The agent an identity that is no longer this agent's moved to (None: it is
        this agent's, or never was another's)."""
        return None if identity in self.identities else self.moved.get(identity)

    def _earliest(self, *extra: IdentityTimeline) -> int | None:
        firsts = [t.times[0] for t in (*self._order, *extra) if len(t)]
        return min(firsts, default=None)

    # ------------------------------------------------------------------ inputs
    def apply_state(self, identity: Identity, ts: int, state: int, reason: Reason,
                    event_id: str | None, now: int | None = None, moved: bool = False,
                    pos: int | None = None,
                    chat: tuple[int | None, int | None] | None = None) -> list[Output]:
        """``moved``: one of the retained events of an identity that moved here from
        another agent (the floor check is left to the ``prune(at=...)`` that follows).
        ``pos``: the event's place in the log, where it may arrive out of log order
        (see rta.timeline). ``chat``: the event's ``(chatCapacity, chatsInProgress)``,
        if it carries any (kept unless the event is rejected: ``offer_chat``)."""
        outs: list[Output] = []
        tl = self.identities[identity]
        newest = tl.newest_before(pos)
        if newest is not None and ts < newest - self.ctx.horizon_ms:
            outs.append(Rejected(
                f"event at {ts} is older than the lateness horizon "
                f"({self.ctx.horizon_ms // 1000} s before the identity's newest event {newest})",
                cause="horizon"))
        else:
            # an event the log places at or before one of its identity's already applied
            # (the same place: that very record): with history dropped before the floor,
            # almost surely a copy read again (a router re-routing after a takeover),
            # applied before the floor moved
            reread = pos is not None and tl.max_pos is not None and pos <= tl.max_pos
            res = tl.add(ts, state, reason, event_id, pos)
            if chat is not None and res.status != "conflict":
                tl.offer_chat((ts, pos, chat[0], chat[1]))
            if res.status == "applied" and self.floor is not None and ts < self.floor \
                    and not moved and not reread:
                # admitted by its identity's horizon, but before the floor: applied here
                # for the days from the floor on (the state it starts may hold there),
                # while the days before, final here, are recomputed from the stored
                # history (docs/HISTORY.md)
                cal = self.ctx.calendar
                event = self._state_json(identity, Entry(
                    ts, event_id or "", state, "" if reason is None else str(reason), reason))
                outs.append(RecomputeNeeded(
                    self.ctx.tenant_id, self.agent_key, cal.iso(cal.ordinal(ts)),
                    cal.iso(cal.ordinal(self.floor) - 1), event))
            if res.status == "conflict":
                outs.append(Rejected(
                    f"eventId {event_id!r} was already applied with another body",
                    cause="conflict"))
            else:
                # entries later in the log that this event (or this copy of it, first
                # in the log) puts beyond the horizon
                gone = tl.late_after(pos, ts - self.ctx.horizon_ms)
                if res.displaced is not None:
                    outs.append(Rejected(
                        f"eventId {event_id!r} was already applied with another body",
                        self._state_json(identity, res.displaced), cause="conflict"))
                outs.extend(Rejected(
                    f"event at {e.ts} is older than the lateness horizon "
                    f"({self.ctx.horizon_ms // 1000} s before the identity's event {ts}, "
                    "earlier in the log)", self._state_json(identity, e), cause="horizon")
                    for e in gone)
                if res.displaced is not None or gone:
                    self.newest = max(t.newest for t in self._order if t.newest is not None)
                    first = min([ts, *(e.ts for e in gone)] + (
                        [res.displaced.ts] if res.displaced is not None else []))
                    self._history_changed(first)
                elif res.status == "applied" or res.replaced:
                    self._timeline_changed(ts, (state, reason) if res.status == "applied"
                                           else None)
        if now is not None:
            outs.extend(self.tick(now))
        return outs

    def _state_json(self, identity: Identity, e: Entry) -> dict[str, Any]:
        """An entry as the state event it came from (for a dead letter)."""
        out = {"tenantId": self.ctx.tenant_id, "acdServerId": identity[0],
               "acdAgentId": identity[1], "gisStateIdentifier": e.state, "timestamp": e.ts,
               "reasonCode": e.reason}
        if e.eid:
            out["eventId"] = e.eid
        return out

    def apply_schedule(self, agent_id: int | str, acd_agent_id: str, from_ts: int, to_ts: int,
                       parts: list[Part], now: int | None = None,
                       pos: tuple[int, int] | None = None, team: str | None = None,
                       name: str | None = None) -> list[Output]:
        """``team``/``name``: who the agent is (for the live status), kept until a later
        message names others. ``pos``: the message's place in the log (schedule
        partition, offset). One at or before the latest applied from that partition is
        a copy read again (a router re-routing after a takeover) or one delivered out of
        order: it is applied (its window may differ from the later message's), but asks
        for no recompute, names no one: that was done when it first came."""
        seen = False
        if pos is not None:
            part, offset = pos
            seen = offset <= self.schedule_pos.get(part, -1)
            if not seen:
                self.schedule_pos[part] = offset
        if team is not None and not seen:
            self.team = team
        if name is not None and not seen:
            self.agent_name = name
        if (agent_id, acd_agent_id) != (self.agent_id, self.acd_agent_id):
            # every summary carries them
            self.changed |= self.emitted
            self.agent_id = agent_id
            self.acd_agent_id = acd_agent_id
        # days inside the window, and those of a part cut at to_ts: it starts anew there
        crossing = self.schedule.part_at(to_ts)
        hi = crossing.end - 1 if crossing is not None and crossing.start < to_ts else to_ts
        outs: list[Output] = []
        if self.floor is not None and from_ts < self.floor and not seen:
            cal = self.ctx.calendar
            last = min(cal.ordinal(hi), cal.ordinal(self.floor) - 1)
            outs.append(RecomputeNeeded(self.ctx.tenant_id, self.agent_key,
                                        cal.iso(cal.ordinal(from_ts)), cal.iso(last)))
        self.schedule.replace_window(from_ts, to_ts, parts)
        self._mark_dirty(from_ts, hi)
        self.alerts.mark(from_ts)
        return outs + (self.tick(now) if now is not None else [])

    def tick(self, now: int) -> list[Output]:
        """Advance open states to ``now``: alerts and live status."""
        outs: list[Output] = list(self._eval_alerts(now))
        status = self.status(now)
        sig = tuple(v for k, v in status.items() if k != "asOf")
        if sig != self.last_status:
            self.last_status = sig
            outs.append(StatusOut(self.ctx.tenant_id, self.agent_key, status))
        return outs

    # ------------------------------------------------------------------ timeline upkeep
    def _limit(self) -> int | None:
        """The agent's last known instant: latest event or last scheduled millisecond."""
        end = self.schedule.last_end()
        cands = [x for x in (self.newest, None if end is None else end - 1) if x is not None]
        return max(cands) if cands else None

    def _timeline_changed(self, t: int, value: Value | None) -> None:
        self.alerts.mark(t)
        eff = self.eff
        if value is not None and (self.newest is None or t > self.newest):
            self.newest = t
            if len(self._order) > 1:
                value = effective([tl.value_at(t) for tl in self._order])
            if eff.append(t, value):
                self.eff_version += 1
                self.changed.add(self.ctx.calendar.ordinal(t))
            self._advance_accounting()
            return
        self.newest = t if self.newest is None else max(self.newest, t)
        self._history_changed(t)

    def _history_changed(self, t: int) -> None:
        """Rebuild the effective timeline from ``t`` and keep the accounting true."""
        eff = self.eff
        eff.rebuild_from(t, self._order)
        self.eff_version += 1
        self.alerts.mark(t)
        a = self.acc_f
        if a is not None and t <= a:
            i = eff.index_at(t)
            b = eff.times[i] if i >= 0 else None  # start of the run now holding at t
            if b is None:
                self._drop_accounting()
            elif t < a or b != a:
                # history before the frontier changed, or the frontier is no longer a
                # run start: rebuild those days, account again from that run's start
                self._mark_dirty(min(b, t), a)
                self.acc_f = b
        self._advance_accounting()

    def _drop_accounting(self) -> None:
        self.changed.update(self.days)
        self.changed.update(self.dirty)
        self.days.clear()
        self.dirty.clear()
        self.acc_f = None

    def _advance_accounting(self) -> None:
        """Account the runs that started before ``newest - ACCOUNTING_LAG_MS``.

        Runs after the frontier are accounted at build time (an overlay), so an
        event up to the lag late (channels of one agent arriving interleaved)
        only rebuilds the effective timeline, never a whole day.
        """
        eff = self.eff
        if self.newest is None or not eff.times:
            return
        j = eff.index_at(self.newest - ACCOUNTING_LAG_MS)
        if j < 0:
            return
        target = eff.times[j]
        a = self.acc_f
        if a is None:
            # first accounting: the days up to here are built from the timeline
            self._mark_dirty(eff.times[0], target)
            self.acc_f = target
            return
        if target <= a:
            return
        i = eff.index_at(a)
        for k in range(i, j):
            self._account(eff.times[k], eff.times[k + 1], eff.values[k])
        self.acc_f = target

    def _account(self, a: int, b: int, value: Value) -> None:
        if self.floor is not None and a < self.floor:
            if b <= self.floor:
                return
            a = self.floor  # days before the floor are final: never built again
        ctx = self.ctx
        account(self.days, self.dirty, self.changed, a, b, value[0], value[1], ctx.calendar,
                self.schedule, ctx.rules, ctx.tolerance_ms)

    def _mark_changed(self, a: int, b: int) -> None:
        cal = self.ctx.calendar
        self.changed.update(range(cal.ordinal(a), cal.ordinal(b) + 1))

    def _mark_dirty(self, a: int, b: int) -> None:
        """Days holding any instant of ``[a, b]`` must be rebuilt."""
        cal = self.ctx.calendar
        o, last = cal.ordinal(a), cal.ordinal(b)
        while o <= last:
            self.dirty.add(o)
            self.changed.add(o)
            self.days.pop(o, None)
            o += 1

    # ------------------------------------------------------------------ day figures
    def _account_range(self, acc: DayAcc, a: int, b: int) -> None:
        """Account ``[a, b)`` (inside one day) into ``acc`` from the timeline."""
        eff, ctx = self.eff, self.ctx
        times, values = eff.times, eff.values
        i = eff.index_at(a)
        t = a
        while t < b:
            v = values[i] if i >= 0 else LOGGED_OUT
            nxt = times[i + 1] if i + 1 < len(times) else b
            y = nxt if nxt < b else b
            account_in_day(acc, t, y, v[0], v[1], self.schedule, ctx.rules, ctx.tolerance_ms)
            t = y
            i += 1

    def _fresh(self, ds: int, e: int) -> DayAcc:
        acc = DayAcc()
        self._account_range(acc, ds, e)
        return acc

    def day_figures(self, o: int, as_of: int | None) -> tuple[DayAcc, DayAcc | None]:
        """Day ``o`` with states running to ``as_of`` (None: the day's end), as the
        cached accounted part and an overlay for the runs after the accounting
        frontier. Do not mutate either."""
        ds, de = self.ctx.calendar.bounds(o)
        until = de if as_of is None else max(ds, min(de, as_of))
        f = self.acc_f
        if f is not None and until < de and until < f:
            return self._fresh(ds, until), None
        acc = self.days.get(o) if o not in self.dirty else None
        if acc is None:
            acc = self._fresh(ds, min(de, f) if f is not None else ds)
            if f is not None:  # without a frontier nothing is cached
                self.days[o] = acc
                self.dirty.discard(o)
        s = ds if f is None else max(ds, f)
        if s >= until:
            return acc, None
        overlay = DayAcc()
        self._account_range(overlay, s, until)
        return acc, overlay

    def day_acc(self, o: int, as_of: int | None) -> DayAcc:
        """Day ``o`` as one new accumulator (see :meth:`day_figures`)."""
        return merged(*self.day_figures(o, as_of))

    def scheduled_parts(self, o: int) -> tuple[int, int, list[Part]]:
        ds, de = self.ctx.calendar.bounds(o)
        return ds, de, self.schedule.overlapping(ds, de)

    def build_day(self, o: int, as_of: int | None) -> dict[str, Any] | None:
        """The day summary, or None when the day has neither scheduled nor logged-in time."""
        ds, de, parts = self.scheduled_parts(o)
        acc, overlay = self.day_figures(o, as_of)
        if not parts and acc.logged_in_ms == 0 and (overlay is None or
                                                      overlay.logged_in_ms == 0):
            return None
        return build_summary(self.ctx.tenant_id, self.agent_id, self.acd_agent_id,
                             self.ctx.calendar.iso(o), ds, de, parts, acc, overlay)

    def candidate_days(self, as_of: int | None) -> list[int]:
        """Days that may have a summary: scheduled days and logged-in days up to the limit."""
        cal = self.ctx.calendar
        days: set[int] = set()
        for p in self.schedule.parts:
            o, last = cal.ordinal(p.start), cal.ordinal(p.end - 1)
            days.update(range(o, last + 1))
        if as_of is None:
            limit = max(x for x in (self.newest, self._schedule_horizon(), -1) if x is not None)
            limit += 1
        else:
            limit = as_of
        eff = self.eff
        for i, t in enumerate(eff.times):
            if eff.values[i][0] == LOGOUT or t >= limit:
                continue
            end = eff.run_end(i)
            end = limit if end is None else min(end, limit)
            days.update(range(cal.ordinal(t), cal.ordinal(end - 1) + 1))
        first = self._floor_day()
        return sorted(o for o in days if first is None or o >= first)

    def _schedule_horizon(self) -> int | None:
        end = self.schedule.last_end()
        return None if end is None else end - 1

    def build_all(self, as_of: int | None) -> list[DaySummaryOut]:
        out = []
        for o in self.candidate_days(as_of):
            summary = self.build_day(o, as_of)
            if summary is not None:
                out.append(DaySummaryOut(self.ctx.tenant_id, self.agent_key,
                                         self.ctx.calendar.iso(o), summary))
        return out

    def _open_run_days(self, as_of: int | None) -> None:
        """Runs after the accounting frontier are built at each build: when the
        frontier, the timeline or the span to the limit moved, their days changed."""
        limit = self._limit()
        if limit is not None and as_of is not None:
            limit = min(limit, as_of - 1)
        frontier = self.acc_f if self.acc_f is not None else (
            self.eff.times[0] if self.eff.times else None)
        sig = (frontier, self.eff_version, limit)
        old = self.open_sig
        if sig == old:
            return
        self.open_sig = sig
        starts = [x for x in (sig[0], old[0] if old else None) if x is not None]
        ends = [x for x in (sig[2], old[2] if old else None) if x is not None]
        if starts and ends and min(starts) <= max(ends):
            self._mark_changed(min(starts), max(ends))
        if starts:
            # days emitted earlier past the limit (the runs ran to an evaluation time
            # beyond it) depend on these runs too: rebuild them, or delete them
            first = self.ctx.calendar.ordinal(min(starts))
            self.changed.update(o for o in self.emitted if o >= first)

    def build_changed(self, as_of: int | None, extra: set[int] | None = None
                      ) -> list[DaySummaryOut]:
        """Summaries of the days changed since the last call (None summary = day gone)."""
        self._open_run_days(as_of)
        days = self.changed | (extra or set())
        self.changed = set()
        first = self._floor_day()
        if first is not None:
            days = {o for o in days if o >= first}
        # days after the one holding the agent's last known instant are reported only
        # for their scheduled time, as build_all does as of the end of time
        # (candidate_days); live (``as_of``), today's day too. A schedule window
        # ending at midnight marks the next day changed, and built to its end (or to
        # the worker clock) that day showed an agent still logged in as in service
        # all day (randomized seeds 121 and 117)
        lim = self._limit()
        last = None if lim is None else self.ctx.calendar.ordinal(lim)
        today = None if as_of is None else self.ctx.calendar.ordinal(as_of)
        out = []
        for o in sorted(days):
            if (last is not None and o > last and o != today
                    and not self.scheduled_parts(o)[2]):
                summary = None
            else:
                summary = self.build_day(o, as_of)
            if summary is None and o not in self.emitted:
                continue
            if summary is None:
                self.emitted.discard(o)
            else:
                self.emitted.add(o)
            out.append(DaySummaryOut(self.ctx.tenant_id, self.agent_key,
                                     self.ctx.calendar.iso(o), summary))
        return out

    # ------------------------------------------------------------------ classification
    def _piece_cls(self, part: Part | None, t: int, value: Value) -> Adherence | None:
        if part is None:
            return None
        cls = self.ctx.rules.classify(part.category, value[0], value[1])
        if cls is OUT and t < part.start + self.ctx.tolerance_ms:
            return Adherence.NEUTRAL
        return cls

    def pieces(self, a: int, b: int) -> Iterator[tuple[int, int, Adherence | None, Part | None,
                                                       Value]]:
        """``[a, b)`` cut where state, activity or tolerance changes; cls None = OFF time."""
        eff, parts, tol = self.eff, self.schedule.parts, self.ctx.tolerance_ms
        i = eff.index_at(a)
        j = self.schedule.index_at(a)
        t = a
        while t < b:
            v = eff.values[i] if i >= 0 else LOGGED_OUT
            y = b
            if i + 1 < len(eff.times) and eff.times[i + 1] < y:
                y = eff.times[i + 1]
            part = None
            if j < len(parts):
                p = parts[j]
                if p.start <= t:
                    part = p
                    y = min(y, p.end)
                    if tol and t < p.start + tol:
                        y = min(y, p.start + tol)
                else:
                    y = min(y, p.start)
            yield t, y, self._piece_cls(part, t, v), part, v
            t = y
            if i + 1 < len(eff.times) and eff.times[i + 1] <= t:
                i += 1
            if part is not None and part.end <= t:
                j += 1

    def classify_at(self, t: int) -> tuple[Adherence | None, Part | None, Value]:
        part = self.schedule.part_at(t)
        v = self.eff.value_at(t)
        return self._piece_cls(part, t, v), part, v

    def _out_run_start(self, t: int) -> int | None:
        """Start of the OUT run holding at instant ``t`` (None: ``t`` is not OUT)."""
        cls, part, _ = self.classify_at(t)
        if cls is not OUT:
            return None
        start = t
        while True:
            # step back to the start of the piece holding at ``start``
            i = self.eff.index_at(start)
            s = self.eff.times[i] if i >= 0 else None
            b = part.start if part is not None else start
            if part is not None and self.ctx.tolerance_ms and start >= b + self.ctx.tolerance_ms:
                b = b + self.ctx.tolerance_ms
            cand = b if s is None else max(s, b)
            if cand <= 0:
                return cand
            prev_cls, part, _ = self.classify_at(cand - 1)
            if prev_cls is not OUT:
                return cand
            start = cand - 1

    def _out_run_end(self, s: int, limit: int) -> int:
        for x, _, cls, _, _ in self.pieces(s, limit):
            if cls is not OUT:
                return x
        return limit

    # ------------------------------------------------------------------ alerts
    def _threshold(self, start: int) -> tuple[int, Part | None]:
        part = self.schedule.part_at(start)
        cat = part.category if part is not None else "OFF"
        return self.ctx.settings.alert_threshold_ms(cat), part

    def _alert(self, kind: str, start: int, end: int | None) -> AlertOut:
        threshold, part = self._threshold(start)
        state, reason = self.eff.value_at(start)
        body: dict[str, Any] = {
            "type": kind,
            "alertId": f"{self.ctx.tenant_id}:{self.agent_key}:{start}",
            "tenantId": self.ctx.tenant_id,
            "agentId": self.agent_id,
            "start": start,
            "at": start + threshold if kind == "ALERT_STARTED" else end,
            "end": end,
            "duration": None if end is None else end - start,
            "thresholdSeconds": threshold // 1000,
            "activity": part.activity_type if part else None,
            "category": part.category if part else None,
            "state": STATE_NAMES[state],
            "gisStateIdentifier": state,
            "reasonCode": reason,
        }
        return AlertOut(self.ctx.tenant_id, self.agent_key, body)

    def _eval_alerts(self, now: int) -> list[AlertOut]:
        """Apply the alert rules at ``now`` (SEMANTICS.md, "Alerts").

        Equivalent to the brute force of the oracle (``reference_alerts``): the OUT
        time of the timeline as known up to and including the instant ``now``,
        minus the time covered by alerts already started, falls into runs; each
        run that lasted its threshold raises an alert. Only what can have changed
        since the last evaluation is walked: from the uncovered run holding at the
        earliest change (or at the previous evaluation) on.
        """
        st = self.alerts
        if st.cursor is not None:
            now = max(now, st.cursor)  # an evaluation never goes back in time
            if st.blind:
                first = self._earliest()
                if first is not None:
                    # alerting started before any event of the agent was known (a tick
                    # at the worker clock, its schedule read before its events): it
                    # starts at its earliest event instead, as it would have if the
                    # events had come first, so which runs alert does not depend on
                    # when the first tick came
                    st.blind = False
                    if st.origin is not None and first < st.origin:
                        st.origin = first
                        st.dirty_from = first if st.dirty_from is None else min(
                            st.dirty_from, first)
            if now == st.cursor and st.dirty_from is None:
                return []
        outs: list[AlertOut] = []
        dirty = st.dirty_from is not None
        p_is_run_start = False
        if st.cursor is None:
            if st.origin is None:
                st.origin = now
                st.blind = self._earliest() is None
            # only the run holding at ``now`` ends after the first evaluation
            x = self._out_run_start(now)
            p, p_is_run_start = (now, False) if x is None else (x, True)
        else:
            a = st.cursor if st.dirty_from is None else min(st.dirty_from, st.cursor)
            if st.open_start is not None:
                # the open alert's run as now known ends at its first instant not OUT
                end = self._first_not_out(max(st.open_start, a), now)
                if end is not None:
                    outs.append(self._alert("ALERT_ENDED", st.open_start, end))
                    st.cover(st.open_start, end)
                    st.open_start = None
            if not dirty:
                p = st.pending if st.pending is not None else st.cursor
            else:
                p = a
                x = self._out_run_start(a)
                if x is not None:
                    cut = st.last_cut(a)
                    p = x if cut is None else max(x, cut)
        segs = self._out_segments(p, now)
        lo = st.origin if st.origin is not None else now
        if self.floor is not None:
            lo = max(lo, self.floor)
        st.pending = None
        for x, y in self._uncovered(segs, p, now):
            threshold, _ = self._threshold(x)
            if y > now:  # holds at ``now``
                if now - x >= threshold:
                    outs.append(self._alert("ALERT_STARTED", x, None))
                    st.open_start = x
                else:
                    st.pending = x
            elif y > lo and y - x >= threshold:
                # passed its threshold and ended since the last evaluation (catch-up)
                outs.append(self._alert("ALERT_STARTED", x, None))
                outs.append(self._alert("ALERT_ENDED", x, y))
                st.cover(x, y)
        if segs and segs[-1][1] > now:
            s0 = segs[-1][0]
            if s0 > p or p_is_run_start:
                st.run_start = s0
            elif dirty or st.run_start is None:
                st.run_start = self._out_run_start(now)
            # else: the run holding at the previous evaluation goes on
        else:
            st.run_start = None
        st.cursor, st.dirty_from = now, None
        return outs

    def _first_not_out(self, a: int, now: int) -> int | None:
        """The first instant of ``[a, now]`` that is not OUT (None: none is)."""
        for x, _, cls, _, _ in self.pieces(a, now):
            if cls is not OUT:
                return x
        return now if self.classify_at(now)[0] is not OUT else None

    def _out_segments(self, a: int, now: int) -> list[list[int]]:
        """The OUT time of ``[a, now]`` as maximal ``[start, end)``; an end of
        ``now + 1`` means OUT at the instant ``now``."""
        segs: list[list[int]] = []
        for x, y, cls, _, _ in self.pieces(a, now):
            if cls is OUT:
                if segs and segs[-1][1] == x:
                    segs[-1][1] = y
                else:
                    segs.append([x, y])
        if self.classify_at(now)[0] is OUT:
            if segs and segs[-1][1] == now:
                segs[-1][1] = now + 1
            else:
                segs.append([now, now + 1])
        return segs

    def _uncovered(self, segs: list[list[int]], a: int, now: int) -> list[tuple[int, int]]:
        """``segs`` (inside ``[a, now + 1)``) without the time covered by alerts,
        in order: the ended alerts, and the open one from its start on."""
        st = self.alerts
        cov = st.covered
        i = bisect_right(cov, [a, MAX_TS]) - 1
        if i < 0 or cov[i][1] <= a:
            i += 1
        cuts = []
        while i < len(cov) and cov[i][0] <= now:
            cuts.append((cov[i][0], cov[i][1]))
            i += 1
        if st.open_start is not None:
            cuts.append((st.open_start, now + 1))
        cuts.sort()
        runs: list[tuple[int, int]] = []
        k = 0
        for x, y in segs:
            while k < len(cuts) and cuts[k][1] <= x:
                k += 1
            j = k
            while x < y:
                if j < len(cuts) and cuts[j][0] < y:
                    cs, ce = cuts[j]
                    if cs > x:
                        runs.append((x, cs))
                    x = max(x, ce)
                    j += 1
                else:
                    runs.append((x, y))
                    break
        return runs

    def next_deadline(self, now: int) -> int | None:
        """When a tick may next change alerts or status with no new input (``now``
        itself while the agent was never evaluated or a change was not evaluated; a
        time before ``now`` when something changed between the last evaluation and
        ``now``: due at once)."""
        st = self.alerts
        if st.cursor is None or st.dirty_from is not None:
            return now
        # what changes after the last evaluation is due, even where that is before
        # ``now`` (evaluated last in event time, a backlog's): then at once
        base = st.cursor
        cands = []
        if st.pending is not None:
            # the threshold of the uncovered run in progress (it may start where an
            # alert's covered time ends)
            cands.append(st.pending + self._threshold(st.pending)[0])
        i = self.eff.index_at(base)
        if i + 1 < len(self.eff.times):
            cands.append(self.eff.times[i + 1])
        j = self.schedule.index_at(base)
        parts = self.schedule.parts
        if j < len(parts):
            p = parts[j]
            cands.append(p.start if p.start > base else p.end)
            if p.start <= base < p.start + self.ctx.tolerance_ms:
                cands.append(p.start + self.ctx.tolerance_ms)
        later = [c for c in cands if c > base]
        return min(later) if later else None

    # ------------------------------------------------------------------ live status
    def status(self, now: int) -> dict[str, Any]:
        cls, part, (state, reason) = self.classify_at(now)
        capacity, in_progress = self.chat_figures(now) if state != LOGOUT else (None, None)
        i = self.eff.index_at(now)
        since = self.eff.times[i] if i >= 0 else None
        st = self.alerts
        out_since = st.run_start if (cls is OUT and st.cursor == now
                                     and st.dirty_from is None) else (
            self._out_run_start(now) if cls is OUT else None)
        return {
            "tenantId": self.ctx.tenant_id,
            "agentId": self.agent_id,
            "acdAgentId": self.acd_agent_id,
            "agentName": self.agent_name,
            "team": self.team,
            "state": STATE_NAMES[state],
            "agentState": RTAS_NAMES[state],
            "gisStateIdentifier": state,
            "reasonCode": reason,
            "since": since,
            "loggedIn": state != LOGOUT,
            "inService": state in IN_SERVICE_STATES,
            "activity": part.activity_type if part else None,
            "activityCategory": part.category if part else "OFF",
            "activityStart": part.start if part else None,
            "activityEnd": part.end if part else None,
            "adherence": cls.name if cls is not None else "UNSCHEDULED",
            "outOfAdherenceSince": out_since,
            "chatCapacity": capacity,
            "chatsInProgress": in_progress,
            "asOf": now,
        }
