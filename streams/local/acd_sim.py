"""A simulated contact centre rendered as each ACD platform's records.

``streams.local.simulate`` makes a deterministic day (schedules and canonical
state events); this module restricts its state events to what a platform can
express and renders them as that platform's records, so a connector test can
load the records into a fake (``fake_ccai``, ``fake_omni``) and expect exactly
the canonical list back (eventIds aside; ``reasonCode`` is None except for
NOT_READY).

CCAI Platform (``ccai_day``, ``to_ccai_logs``): identity (``server``,
str(CCAI agent_id)); states READY (Available, wfm_id 11), TALKING (In-call, 34),
WORK_READY (Wrap-up, 33), NOT_READY with reasonCode the int wfm_id of
Unavailable 12 / Break 29 / Special Task 30 / Meal 31 / Missed Call 32 / the
custom Meal 45, LOGOUT (Offline, 36). A login is a ``login`` record (Offline)
then a ``user_status_changed`` at the same started_at (ids in that order); a
logout is a ``user_status_changed`` to Offline then a ``logout`` record at the
same started_at (ids in that order, as in the seed's example). Each
``user_status_changed``'s ended_at is the agent's next one's started_at (null
for the last); ``login``/``logout`` records have ended_at null and duration 0.
Whole milliseconds; ids increase with (started_at, agent_id, order).

Omni (``omni_day``, ``to_omni_rows``): identity (``server``, "username:" +
e-mail); states READY, NOT_READY with reasonCode the pause name, LOGOUT. A
``Login`` row spans login -> logout (data_fim null while logged in), a pause row
(evento = the pause name) spans NOT_READY -> the next event, always inside a
login; after a pause the agent is READY. Whole seconds, local wall-clock strings
with no offset; no event inside a DST fall-back's repeated hour (those are moved
to the first second after it: the strings would be ambiguous), no two events of
an agent in the same second (later ones move on by a second).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from rta.states import (
    BUSY_OTHER,
    HOLD,
    LOGOUT,
    NOT_READY,
    READY,
    RESERVED,
    TALKING,
    UNKNOWN,
    WORK_NOT_READY,
    WORK_READY,
)
from streams.local.fake_ccai import DEFAULT_STATUSES, format_time, parse_time
from streams.local.fake_omni import local_string
from streams.local.simulate import CentreSpec, generate

DAY = date(2026, 3, 7)

# ---------------------------------------------------------------------- CCAI
CCAI_STATE_WFM = {READY: 11, TALKING: 34, WORK_READY: 33, LOGOUT: 36}
CCAI_NOT_READY_WFM = (12, 29, 30, 31, 32, 45)
OFFLINE_WFM = 36
CCAI_FIRST_AGENT = 200  # CCAI agent_id of the simulator's agent 1000 (+ n)

# ---------------------------------------------------------------------- Omni
OMNI_PAUSES = ("Almoço", "Pausa 10", "Pausa 15", "Treinamento", "Ginástica Laboral",
               "Feedback")  # the last two: custom pauses of the organization
LOGIN_EVENT = "Login"


@dataclass(frozen=True)
class CcaiAgent:
    agent_id: int  # the simulator's (WFM) agentId
    ccai_id: int  # CCAI agent_id
    acd_agent_id: str  # str(ccai_id)


@dataclass(frozen=True)
class OmniAgent:
    agent_id: int  # the simulator's (WFM) agentId
    email: str  # "agent" in the report: agent1003@acme.example
    name: str  # "agente" in the report, user_short_name in the dashboard
    alias: str  # "agent" in chats-dashboard
    omni_id: str  # "agent_id" in the report (internal)
    acd_agent_id: str  # "username:" + email


class SimDay(NamedTuple):
    schedules: list[dict[str, Any]]  # schedule bodies naming the platform identities
    canonical: list[dict[str, Any]]  # state-event bodies, by (timestamp, acdAgentId)
    roster: list[Any]  # CcaiAgent or OmniAgent, one per simulated agent


class OmniRows(NamedTuple):
    rows: list[dict[str, Any]]
    canonical: list[dict[str, Any]]
    time_zone: str


def _simulate(seed: int, agents: int, day: date, time_zone: str, tenant: str
              ) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    """The simulator's one day (voice only): schedule and state bodies by agent index."""
    spec = CentreSpec(agents=agents, days=1, start=day, time_zone=time_zone, tenant=tenant,
                      seed=seed, multichannel_fraction=0.0)
    schedules: dict[int, list[dict[str, Any]]] = defaultdict(list)
    states: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in generate(spec):
        body = rec["body"]
        n = int(body["acdAgentId"]) - 100_000
        (schedules if rec["kind"] == "schedule" else states)[n].append(body)
    for evs in states.values():
        # emission order (the simulator's eventId counter) breaks ties of equal times
        evs.sort(key=lambda e: (e["timestamp"], int(e["eventId"].rsplit("-", 1)[1])))
    return schedules, states


def _schedules(raw: dict[int, list[dict[str, Any]]], server: str, ids: dict[int, str]
               ) -> list[dict[str, Any]]:
    out = []
    for n in sorted(raw):
        for body in raw[n]:
            body = dict(body, acdServerId=server, acdAgentId=ids[n])
            body.pop("acdIdentities", None)
            out.append(body)
    return out


def _event(tenant: str, server: str, acd: str, state: int, ts: int, reason: Any, k: int
           ) -> dict[str, Any]:
    return {"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
            "gisStateIdentifier": state, "timestamp": ts, "reasonCode": reason,
            "eventId": f"{server}-{acd}-{k}"}


def _sort(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (e["timestamp"], e["acdAgentId"]))


# ---------------------------------------------------------------------- CCAI
def _ccai_state(rng: random.Random, state: int, reason: Any) -> tuple[int, int | None]:
    if state == LOGOUT:
        return LOGOUT, None
    if state in (READY, RESERVED):
        return READY, None
    if state in (TALKING, HOLD, BUSY_OTHER):
        return TALKING, None
    if state in (WORK_READY, WORK_NOT_READY):
        return WORK_READY, None
    if state == UNKNOWN:
        return NOT_READY, 32  # Missed Call
    choices = {11: (29, 30), 12: (12, 32), "Lunch": (31, 45)}.get(reason, (12,))
    return NOT_READY, rng.choice(choices)


def ccai_day(seed: int = 1, agents: int = 50, server: str = "ccai", day: date = DAY,
             time_zone: str = "America/Chicago", tenant: str = "demo") -> SimDay:
    """A simulated day on CCAI Platform: (schedules, canonical, roster)."""
    raw_sched, raw_states = _simulate(seed, agents, day, time_zone, tenant)
    rng = random.Random(f"ccai-{seed}")
    roster = [CcaiAgent(1000 + n, CCAI_FIRST_AGENT + n, str(CCAI_FIRST_AGENT + n))
              for n in range(agents)]
    canonical: list[dict[str, Any]] = []
    for n in range(agents):
        acd = roster[n].acd_agent_id
        mapped = [(e["timestamp"], *_ccai_state(rng, e["gisStateIdentifier"],
                                                e["reasonCode"]))
                  for e in raw_states.get(n, [])]
        # one event per millisecond (the last wins), no repeats, no LOGOUT before a login
        last: dict[int, tuple[int, int, int | None]] = {}
        for m in mapped:
            last[m[0]] = m
        kept: list[tuple[int, int, int | None]] = []
        for ts, state, reason in sorted(last.values()):
            prev = kept[-1][1:] if kept else (LOGOUT, None)
            if (state, reason) != prev:
                kept.append((ts, state, reason))
        canonical += [_event(tenant, server, acd, s, ts, r, k)
                      for k, (ts, s, r) in enumerate(kept, 1)]
    return SimDay(_schedules(raw_sched, server, {n: a.acd_agent_id
                                                 for n, a in enumerate(roster)}),
                  _sort(canonical), roster)


def to_ccai_logs(canonical: Iterable[Mapping[str, Any]],
                 statuses: list[dict[str, Any]] | None = None, first_id: int = 1
                 ) -> list[dict[str, Any]]:
    """CCAI agent activity log records telling ``canonical``, by (started_at, id).

    ValueError for what CCAI cannot express: another state, a NOT_READY reason that
    is not a known wfm_id, a LOGOUT while logged out, a repeated state."""
    by_wfm = {s["wfm_id"]: s for s in (statuses or DEFAULT_STATUSES)}
    per_agent: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for ev in canonical:
        per_agent[int(ev["acdAgentId"])].append(ev)
    specs: list[tuple[int, int, int, str, int]] = []  # (started, agent, order, activity, wfm)
    for agent, evs in per_agent.items():
        logged, prev = False, None
        for ev in sorted(evs, key=lambda e: e["timestamp"]):
            state, ts, reason = ev["gisStateIdentifier"], int(ev["timestamp"]), ev["reasonCode"]
            if (state, reason) == prev:
                raise ValueError(f"repeated state {ev}")
            prev = (state, reason)
            if state == NOT_READY:
                if reason not in CCAI_NOT_READY_WFM or reason not in by_wfm:
                    raise ValueError(f"NOT_READY reason {reason!r} is no wfm_id of a status")
                wfm = reason
            elif state in CCAI_STATE_WFM:
                if reason is not None:
                    raise ValueError(f"only NOT_READY has a reasonCode: {ev}")
                wfm = CCAI_STATE_WFM[state]
            else:
                raise ValueError(f"CCAI cannot express state {state}: {ev}")
            if state == LOGOUT:
                if not logged:
                    raise ValueError(f"LOGOUT while logged out: {ev}")
                specs += [(ts, agent, 0, "user_status_changed", OFFLINE_WFM),
                          (ts, agent, 1, "logout", OFFLINE_WFM)]
                logged = False
            elif not logged:
                specs += [(ts, agent, 0, "login", OFFLINE_WFM),
                          (ts, agent, 1, "user_status_changed", wfm)]
                logged = True
            else:
                specs.append((ts, agent, 0, "user_status_changed", wfm))
    specs.sort()
    records = []
    open_status: dict[int, dict[str, Any]] = {}  # agent -> its last user_status_changed
    for i, (ts, agent, _, activity, wfm) in enumerate(specs):
        rec = {"id": first_id + i, "agent_id": agent, "whodunnit": None,
               "status": dict(by_wfm[wfm]), "started_at": format_time(ts), "ended_at": None,
               "duration": 0, "activity": activity, "call_id": None, "chat_id": None,
               "_ms": ts}
        if activity == "user_status_changed":
            before = open_status.get(agent)
            if before is not None:
                before["ended_at"] = format_time(ts)
                before["duration"] = (ts - before["_ms"]) // 1000
            open_status[agent] = rec
        records.append(rec)
    for rec in records:
        del rec["_ms"]
    return records


def ccai_view_at(records: Iterable[Mapping[str, Any]], at_ms: int) -> list[dict[str, Any]]:
    """What the platform shows at ``at_ms``: the records started by then, a status
    that ends later still open (ended_at null, duration 0)."""
    out = []
    for rec in records:
        if parse_time(rec["started_at"]) > at_ms:
            continue
        rec = dict(rec)
        end = rec["ended_at"]
        if end is not None and parse_time(end) > at_ms:
            rec["ended_at"], rec["duration"] = None, 0
        out.append(rec)
    return out


# ---------------------------------------------------------------------- Omni
def _repeated(ms: int, zone: ZoneInfo) -> bool:
    """Whether the local wall-clock time of ``ms`` names two instants (a fall-back)."""
    wall = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != \
        wall.replace(tzinfo=zone, fold=1).utcoffset()


def _after_repeated(ms: int, zone: ZoneInfo) -> int:
    """The first whole second at or after ``ms`` outside a repeated local hour."""
    if not _repeated(ms, zone):
        return ms
    lo, hi = ms // 1000, ms // 1000 + 3 * 3600  # lo repeated; no repeat lasts 3 h
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _repeated(mid * 1000, zone):
            lo = mid
        else:
            hi = mid
    return hi * 1000


def _omni_agent(evs: list[Mapping[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """``to_omni_canonical`` for one identity's events in time order."""
    logged = paused = False
    kept: list[dict[str, Any]] = []

    def emit(ev: Mapping[str, Any], state: int, reason: Any) -> None:
        ts = ev["timestamp"] // 1000 * 1000
        if kept:
            ts = max(ts, kept[-1]["timestamp"] + 1000)
        ts = _after_repeated(ts, zone)
        kept.append(_event(ev["tenantId"], ev["acdServerId"], ev["acdAgentId"], state, ts,
                           reason, len(kept) + 1))

    for ev in evs:
        state = ev["gisStateIdentifier"]
        if state == LOGOUT:
            if logged:
                emit(ev, LOGOUT, None)
            logged = paused = False
        elif state == READY:
            if not logged or paused:
                emit(ev, READY, None)
            logged, paused = True, False
        elif state == NOT_READY:
            if not logged:
                emit(ev, READY, None)
                logged = True
            if not paused:
                emit(ev, NOT_READY, str(ev["reasonCode"]))
                paused = True
        else:
            raise ValueError(f"Omni cannot express state {state}: {ev}")
    return kept


def to_omni_canonical(events: Iterable[Mapping[str, Any]], time_zone: str
                      ) -> list[dict[str, Any]]:
    """State-event bodies (states READY, NOT_READY with a pause name, LOGOUT) made
    expressible by the report, deterministically: whole seconds (floored), each agent's
    events at least a second apart (later ones moved on), none in a repeated local hour
    (moved to the first second after it), a NOT_READY while logged out logs in first
    (the pause a second later), repeats, a NOT_READY during a pause and a LOGOUT while
    logged out dropped. Every body keeps its keys; eventIds are renumbered."""
    zone = ZoneInfo(time_zone)
    per_agent: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for ev in events:
        per_agent[(ev["acdServerId"], ev["acdAgentId"])].append(ev)
    out: list[dict[str, Any]] = []
    for evs in per_agent.values():
        out += _omni_agent(sorted(evs, key=lambda e: e["timestamp"]), zone)
    return _sort(out)


def _omni_roster(n: int) -> OmniAgent:
    agent_id = 1000 + n
    email = f"agent{agent_id}@acme.example"
    return OmniAgent(agent_id, email, f"Agente {agent_id}", f"ag{agent_id}",
                     hashlib.sha1(email.encode()).hexdigest()[:24], "username:" + email)


def omni_day(seed: int = 1, agents: int = 50, time_zone: str = "America/Sao_Paulo",
             day: date = DAY, server: str = "omni", tenant: str = "demo") -> SimDay:
    """A simulated day on Omni: (schedules, canonical, roster). Every in-service state
    (and UNKNOWN) is READY; NOT_READY reasons become pause names (deterministically)."""
    raw_sched, raw_states = _simulate(seed, agents, day, time_zone, tenant)
    rng = random.Random(f"omni-{seed}")
    roster = [_omni_roster(n) for n in range(agents)]
    pauses = {11: ("Pausa 10", "Pausa 15"), 12: ("Treinamento", "Ginástica Laboral", "Feedback"),
              "Lunch": ("Almoço",)}
    events = []
    for n in range(agents):
        for e in raw_states.get(n, []):
            state, reason = e["gisStateIdentifier"], None
            if state == NOT_READY:
                reason = rng.choice(pauses.get(e["reasonCode"], ("Treinamento",)))
            elif state != LOGOUT:
                state = READY
            events.append(_event(tenant, server, roster[n].acd_agent_id, state,
                                 e["timestamp"], reason, 0))
    return SimDay(_schedules(raw_sched, server, {n: a.acd_agent_id
                                                 for n, a in enumerate(roster)}),
                  to_omni_canonical(events, time_zone), roster)


def to_omni_rows(canonical: Iterable[Mapping[str, Any]], time_zone: str,
                 roster: Iterable[OmniAgent] | None = None, first_id: int = 1
                 ) -> list[dict[str, Any]]:
    """activity-history rows telling ``canonical`` (as ``to_omni_canonical`` makes it),
    sorted by (data_inicio, id). Names and internal ids come from ``roster`` or, for an
    e-mail not in it, from the e-mail. ValueError for what the report cannot express."""
    zone = ZoneInfo(time_zone)
    people = {a.email: a for a in roster or ()}
    per_agent: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ev in canonical:
        acd = str(ev["acdAgentId"])
        if not acd.startswith("username:"):
            raise ValueError(f"acdAgentId must be 'username:' + e-mail: {ev}")
        per_agent[acd.removeprefix("username:")].append(ev)
    spans: list[tuple[int, str, int, str, int | None]] = []  # (start, email, order, evento, end)
    for email, evs in per_agent.items():
        login: int | None = None
        pause: tuple[int, str] | None = None
        last: int | None = None
        for ev in sorted(evs, key=lambda e: e["timestamp"]):
            state, ts, reason = ev["gisStateIdentifier"], int(ev["timestamp"]), ev["reasonCode"]
            if ts % 1000 or (last is not None and ts <= last) or _repeated(ts, zone):
                raise ValueError(f"not whole seconds, not a second after the last or in a "
                                 f"repeated local hour: {ev}")
            last = ts
            if state == READY and login is None:
                login = ts
            elif state == READY and pause is not None:
                spans.append((pause[0], email, 1, pause[1], ts))
                pause = None
            elif state == NOT_READY and login is not None and pause is None and reason:
                pause = (ts, str(reason))
            elif state == LOGOUT and login is not None:
                if pause is not None:
                    spans.append((pause[0], email, 1, pause[1], ts))
                    pause = None
                spans.append((login, email, 0, LOGIN_EVENT, ts))
                login = None
            else:
                raise ValueError(f"Omni cannot express {ev} here")
        if pause is not None:
            spans.append((pause[0], email, 1, pause[1], None))
        if login is not None:
            spans.append((login, email, 0, LOGIN_EVENT, None))
    spans.sort(key=lambda s: s[:3])
    rows = []
    for i, (start, email, _, evento, end) in enumerate(spans):
        who = people.get(email)
        rows.append({"agent_id": who.omni_id if who else
                     hashlib.sha1(email.encode()).hexdigest()[:24],
                     "agente": who.name if who else email.split("@")[0],
                     "agent": email, "evento": evento,
                     "data_inicio": local_string(start, time_zone),
                     "data_fim": None if end is None else local_string(end, time_zone),
                     "id": first_id + i})
    return rows


def omni_view_at(rows: Iterable[Mapping[str, Any]], at_ms: int, time_zone: str
                 ) -> list[dict[str, Any]]:
    """What the report shows at ``at_ms``: the rows started by then, one that ends
    later still open (data_fim null). Needs unambiguous strings (as rendered here)."""
    zone = ZoneInfo(time_zone)

    def ms(text: str) -> int:
        return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
                   .timestamp() * 1000)

    out = []
    for row in rows:
        if ms(row["data_inicio"]) > at_ms:
            continue
        row = dict(row)
        if row["data_fim"] is not None and ms(row["data_fim"]) > at_ms:
            row["data_fim"] = None
        out.append(row)
    return out


# ---------------------------------------------------------------------- Omni fixtures
def _local_ms(time_zone: str, text: str, fold: int = 0) -> int:
    wall = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return int(wall.replace(tzinfo=ZoneInfo(time_zone), fold=fold).timestamp() * 1000)


def _fixture(time_zone: str, agents: list[list[tuple[int, int, str | None]]],
             tenant: str = "demo", server: str = "omni") -> OmniRows:
    """Rows and canonical for hand-written (ms, state, reason) lists, one per agent."""
    roster = [_omni_roster(n) for n in range(len(agents))]
    events = [_event(tenant, server, roster[n].acd_agent_id, s, ts, r, 0)
              for n, evs in enumerate(agents) for ts, s, r in evs]
    canonical = to_omni_canonical(events, time_zone)
    return OmniRows(to_omni_rows(canonical, time_zone, roster), canonical, time_zone)


def omni_midnight_rows(time_zone: str = "America/Sao_Paulo") -> OmniRows:
    """One agent logged in 2026-03-07 22:00:00 -> 2026-03-08 06:00:00 local, with a
    pause "Pausa 15" 23:50:00 -> 00:10:00 across local midnight: both rows' data_inicio
    are on the 7th and data_fim on the 8th (a report of the 8th alone finds neither)."""
    def t(text: str) -> int:
        return _local_ms(time_zone, text)

    return _fixture(time_zone, [[
        (t("2026-03-07 22:00:00"), READY, None),
        (t("2026-03-07 23:50:00"), NOT_READY, "Pausa 15"),
        (t("2026-03-08 00:10:00"), READY, None),
        (t("2026-03-08 06:00:00"), LOGOUT, None)]])


def omni_dst_rows(kind: Literal["spring", "fall"] = "spring",
                  time_zone: str = "America/Chicago") -> OmniRows:
    """America/Chicago's DST changes as Omni rows.

    ``spring`` (2026-03-08, 02:00 CST -> 03:00 CDT): agent 0 logs in 01:30:00 and out
    03:30:00 local (one real hour), pausing "Almoço" 01:50:00 -> 03:10:00 (20 real
    minutes) across the missing hour; agent 1 logs in 03:00:00 (the first instant after
    the gap) and out 04:00:00.

    ``fall`` (2026-11-01, 02:00 CDT -> 01:00 CST; 01:00:00-01:59:59 happens twice):
    agent 0 logs in 00:30:00 CDT and out 02:30:00 CST (three real hours), pausing
    "Pausa 10" 00:50:00 CDT -> 02:10:00 CST (2 h 20 min) across the repeated hour;
    agent 1's events fall inside the repeated hour (a login at 01:15 CDT, a pause at
    01:40 CST) and are moved to 02:00:00 and 02:00:01 CST; it logs out 03:00:00 CST."""
    def t(text: str, fold: int = 0) -> int:
        return _local_ms(time_zone, text, fold)

    if kind == "spring":
        return _fixture(time_zone, [
            [(t("2026-03-08 01:30:00"), READY, None),
             (t("2026-03-08 01:50:00"), NOT_READY, "Almoço"),
             (t("2026-03-08 03:10:00"), READY, None),
             (t("2026-03-08 03:30:00"), LOGOUT, None)],
            [(t("2026-03-08 03:00:00"), READY, None),
             (t("2026-03-08 04:00:00"), LOGOUT, None)]])
    return _fixture(time_zone, [
        [(t("2026-11-01 00:30:00"), READY, None),
         (t("2026-11-01 00:50:00"), NOT_READY, "Pausa 10"),
         (t("2026-11-01 02:10:00"), READY, None),
         (t("2026-11-01 02:30:00"), LOGOUT, None)],
        [(t("2026-11-01 01:15:00"), READY, None),
         (t("2026-11-01 01:40:00", fold=1), NOT_READY, "Feedback"),
         (t("2026-11-01 03:00:00"), LOGOUT, None)]])


def omni_paging_rows(agents: int = 275, pauses: int = 9, day: date = DAY,
                     time_zone: str = "America/Sao_Paulo") -> OmniRows:
    """``agents * (pauses + 1)`` rows (default 2,750: three report pages) on one day,
    all agents logging in at 08:00:00 and pausing at the same seconds, so pages cut
    through runs of equal data_inicio (ordered by id) unless 1000 % agents == 0."""
    def t(minutes: int) -> int:
        wall = datetime(day.year, day.month, day.day) + timedelta(hours=8, minutes=minutes)
        return int(wall.replace(tzinfo=ZoneInfo(time_zone)).timestamp() * 1000)

    names = OMNI_PAUSES
    per_agent = []
    for n in range(agents):
        evs: list[tuple[int, int, str | None]] = [(t(0), READY, None)]
        for k in range(pauses):
            evs += [(t(5 + 10 * k), NOT_READY, names[(n + k) % len(names)]),
                    (t(8 + 10 * k), READY, None)]
        evs.append((t(10 * pauses + 10), LOGOUT, None))
        per_agent.append(evs)
    return _fixture(time_zone, per_agent)
