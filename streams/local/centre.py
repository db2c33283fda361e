"""A believable contact centre: the demo of `rta up --demo` and `rta simulate`'s default.

Deterministic for a seed (the same spec gives the same records, byte for byte).
What it holds (docs/DEMO.md):

- **Teams** with their own shift patterns: Billing, Tech Support, Sales and
  Retention on phones (day shifts staggered 06:00-13:00, part-timers of 4 and 6
  hours, Sales partly outbound), Chat Care on a chat platform (one identity
  with concurrency: ``chatCapacity`` 2-4, ``chatsInProgress`` moving 0..capacity)
  and an Overnight team (20:00-22:00 to 06:30, across midnight). Team sizes are
  uneven (a fixed interleaved pattern, so any number of agents has about the
  same mix); every agent has a name.
- **Schedules** published the evening before, one message per local day
  (``team``, ``agentName``): a shift, two 15-minute breaks and a 30- or
  60-minute lunch, sometimes a coaching session (activity ``training``) or a
  team meeting (``ASSIGNMENT``); a few agents get a huddle added during the day
  (a schedule change, published shortly before it).
- **States**: contact cycles READY -> RESERVED -> TALKING (-> HOLD -> TALKING)
  -> wrap-up (WORK_NOT_READY or WORK_READY) -> READY with durations drawn per
  team; breaks and lunches as NOT_READY with a reason; late logins, long calls
  running into a break, late returns from lunch, early logouts, personal
  NOT_READY time, now and then an UNKNOWN state. Some agents are less disciplined
  than others. Day adherence comes out around 90 %.

Wall-clock arithmetic in the tenant's zone: shifts start and end at local
times (an overnight shift on a DST night is an hour shorter or longer); the
breaks inside are offsets from its start, so they keep their order.

Random streams are per agent (its profile) and per agent and day (its plan and
states), seeded by text: an agent's day does not depend on how many agents the
centre has, nor on which days around it are generated, so event ids (which name
the identity and the day) always mean the same event.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
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
from streams.local.simulate import HOUR, MIN, _local_ms, _midnight

SEC = 1000
PHONE_SERVER = "1"
CHAT_SERVER = "2"

# NOT_READY reason codes
BREAK_REASON, LUNCH_REASON, COACHING_REASON, MEETING_REASON = 11, 12, 20, 30
PERSONAL_REASONS = (40, 40, 41, 42)  # personal, system issue, supervisor


@dataclass(frozen=True)
class Team:
    name: str
    weight: int  # its share of agents, in slots of the team pattern
    starts: tuple[int, ...]  # shift starts, minutes after local midnight
    hours: float  # a full-time shift, lunch included
    lunch: int  # minutes
    part_time: float  # share of part-timers (4 or 6 hours)
    wait_s: float  # mean time READY between contacts
    talk_s: float  # mean talk time (chat: mean chat length)
    hold: float = 0.0  # share of calls with a hold
    outbound: float = 0.0  # share of contacts that are callbacks (BUSY_OTHER)
    chat: bool = False  # a chat team: one identity on the chat platform, concurrent chats
    overnight: bool = False  # to 06:30 the next morning


TEAMS: tuple[Team, ...] = (
    Team("Billing", 11, tuple(range(6 * 60, 9 * 60 + 1, 30)), 8.5, 30, 0.1, 35, 270, 0.3),
    Team("Tech Support", 12, tuple(range(7 * 60, 11 * 60 + 1, 30)), 9, 60, 0.05, 30, 420,
         0.35),
    Team("Sales", 7, tuple(range(9 * 60, 13 * 60 + 1, 60)), 8.5, 30, 0.35, 70, 330, 0.15,
         outbound=0.1),
    Team("Retention", 4, (8 * 60, 9 * 60, 10 * 60), 8.5, 30, 0.0, 60, 480, 0.25),
    Team("Chat Care", 9, tuple(range(7 * 60, 12 * 60 + 1, 60)), 8.5, 30, 0.1, 150, 480,
         chat=True),
    Team("Overnight", 7, (20 * 60, 21 * 60, 22 * 60), 0, 30, 0.0, 150, 330, 0.25,
         overnight=True),
)


def _pattern(weights: list[int]) -> tuple[int, ...]:
    """Smooth weighted round robin: every prefix holds the teams about in proportion."""
    total, current, out = sum(weights), [0] * len(weights), []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        out.append(best)
    return tuple(out)


PATTERN = _pattern([t.weight for t in TEAMS])

FIRST_NAMES = (
    "Ada", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Keiko",
    "Liam", "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Wes", "Ximena", "Yusuf", "Zoe", "Aaron", "Bianca", "Chen", "Dana", "Emeka", "Fatima",
    "Gus", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nora", "Oscar", "Priya", "Reza",
    "Sofia", "Theo", "Uma", "Victor", "Wendy")
LAST_NAMES = (
    "Adams", "Baker", "Castro", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Khan", "Lopez", "Moreau", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Young", "Zhang", "Alvarez", "Brooks",
    "Chavez", "Diaz", "Ellis", "Flores", "Gomez", "Hall", "Iqbal", "Jones", "Kim", "Larsen",
    "Murphy", "Novak", "Olsen", "Price", "Reyes", "Silva", "Turner", "Ueda", "Vargas", "Ward",
    "Yilmaz", "Zimmer")


_NAMES = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
random.Random("centre:names").shuffle(_NAMES)


def agent_name(index: int) -> str:
    """A name for the ``index``-th agent: unique for the first 2,400."""
    return _NAMES[index % len(_NAMES)]


@dataclass(frozen=True)
class Centre:
    """What to generate. ``first_agent``: agent ids start at 1000 + it."""

    agents: int = 60
    days: int = 2
    start: date = date(2026, 3, 7)
    time_zone: str = "America/Chicago"
    tenant: str = "northwind"
    seed: int = 1
    late_fraction: float = 0.0  # state events delivered 1-20 minutes late
    duplicate_fraction: float = 0.0  # state events delivered twice
    identities_known_late_fraction: float = 0.0  # first schedule after the first states
    first_agent: int = 0


@dataclass(frozen=True)
class Agent:
    index: int
    agent_id: int
    team: Team
    name: str
    server: str
    acd: str  # the one ACD identity (phone, or chat for a chat team)
    start: int  # usual shift start, minutes after local midnight
    part_hours: int | None
    discipline: float  # multiplies the rates of being out of adherence (1: typical)
    pace: float  # multiplies talk times
    capacity: int | None  # chat teams: concurrent chats


def make_agent(spec: Centre, index: int) -> Agent:
    team = TEAMS[PATTERN[index % len(PATTERN)]]
    rng = random.Random(f"centre:{spec.seed}:agent:{index}")
    agent_id = 1000 + index
    part = rng.choice((4, 6)) if rng.random() < team.part_time else None
    discipline = rng.uniform(2.0, 3.0) if rng.random() < 0.12 else rng.uniform(0.4, 1.3)
    return Agent(index=index, agent_id=agent_id, team=team, name=agent_name(index),
                 server=CHAT_SERVER if team.chat else PHONE_SERVER,
                 acd=f"chat-{agent_id}" if team.chat else str(100_000 + index),
                 start=rng.choice(team.starts), part_hours=part, discipline=discipline,
                 pace=rng.uniform(0.8, 1.25), capacity=rng.choice((2, 3, 3, 4)) if team.chat
                 else None)


@dataclass(frozen=True)
class Block:
    """An activity off the phone that the agent follows with a NOT_READY reason."""

    activity: str
    label: str
    start: int
    end: int
    reason: int


@dataclass
class Plan:
    """One agent's shift starting on one day."""

    day: date
    start: int
    end: int
    blocks: list[Block]  # in the schedule published the evening before
    change: Block | None = None  # a huddle added during the day
    change_published: int = 0
    activities: list[tuple[str, str, int, int]] = field(default_factory=list)


def _plan(spec: Centre, agent: Agent, zone: ZoneInfo, d: date) -> Plan:
    rng = random.Random(f"centre:{spec.seed}:plan:{agent.index}:{d.isoformat()}")
    team = agent.team
    start_min = agent.start
    if not team.overnight and rng.random() < 0.15:
        start_min = min(max(start_min + rng.choice((-30, 30)), team.starts[0]), team.starts[-1])
    s = _local_ms(zone, d, start_min)
    if team.overnight:
        e = _local_ms(zone, d, 24 * 60 + 6 * 60 + 30)  # 06:30 the next morning, wall clock
    else:
        e = s + int((agent.part_hours or team.hours) * HOUR)
    length = (e - s) // MIN
    jitter = (-15, 0, 15)

    def block(activity: str, label: str, off: int, minutes: int, reason: int) -> Block:
        return Block(activity, label, s + off * MIN, s + (off + minutes) * MIN, reason)

    blocks: list[Block] = []
    if length >= 7 * 60:
        lunch = 60 if team.overnight and length >= 9 * 60 + 30 else team.lunch
        blocks.append(block("BREAK", "Break", 120 + rng.choice(jitter), 15, BREAK_REASON))
        mid = (length // 2 - lunch // 2) // 15 * 15 + rng.choice(jitter)
        blocks.append(block("LUNCH", "Lunch", mid, lunch, LUNCH_REASON))
        blocks.append(block("BREAK", "Break", length - 120 + rng.choice(jitter), 15,
                            BREAK_REASON))
    elif length >= 6 * 60:
        blocks.append(block("BREAK", "Break", 120 + rng.choice(jitter), 15, BREAK_REASON))
        blocks.append(block("LUNCH", "Lunch", 240 + rng.choice(jitter), 30, LUNCH_REASON))
    else:
        blocks.append(block("BREAK", "Break", 120 + rng.choice(jitter), 15, BREAK_REASON))

    def free_slot(minutes: int) -> int | None:
        """An offset for ``minutes`` off the phone, 45 minutes clear of the others."""
        slots = [m for m in range(60, length - 90 - minutes + 1, 15)
                 if all(s + (m + minutes + 45) * MIN <= b.start or s + (m - 45) * MIN >= b.end
                        for b in blocks)]
        return rng.choice(slots) if slots else None

    if rng.random() < 0.12 and (off := free_slot(30)) is not None:
        blocks.append(block("training", "Coaching", off, 30, COACHING_REASON))
    if rng.random() < 0.06 and (off := free_slot(30)) is not None:
        blocks.append(block("ASSIGNMENT", "Team meeting", off, 30, MEETING_REASON))
    blocks.sort(key=lambda b: b.start)
    plan = Plan(d, s, e, blocks)
    plan.activities = [("IN_SERVICE", "In Service", s, e)] + [
        (b.activity, b.label, b.start, b.end) for b in blocks]
    if rng.random() < 0.05 and (off := free_slot(30)) is not None:
        plan.change = block("ASSIGNMENT", "Team huddle", off, 30, MEETING_REASON)
        plan.change_published = plan.change.start - rng.randint(20 * MIN, 90 * MIN)
    return plan


# ---------------------------------------------------------------------- states
Aux = tuple[int, int, int | None, int]  # (at, state, reason, duration)


class _Timeline:
    """One identity's state events of one shift, strictly increasing in time."""

    def __init__(self, capacity: int | None) -> None:
        self.events: list[tuple[int, int, int | None, int | None]] = []
        self.capacity = capacity
        self.chats = 0
        self.last = -1

    def emit(self, ts: int, state: int, reason: int | None = None) -> int:
        ts = max(ts, self.last + 1)
        self.events.append((ts, state, reason, self.chats if self.capacity else None))
        self.last = ts
        return ts


def _lognormal(rng: random.Random, mean_s: float, lo_s: float, hi_s: float) -> int:
    sigma = 0.6
    value = rng.lognormvariate(math.log(mean_s) - sigma * sigma / 2, sigma)
    return int(min(max(value, lo_s), hi_s) * SEC)


def _phone_work(rng: random.Random, tl: _Timeline, agent: Agent, t: int, until: int,
                overrun: int, aux: list[Aux]) -> int:
    """Contacts from ``t`` (READY) until the agent leaves at ``until``: no call it
    cannot finish is taken, but with ``overrun`` (ms) the last call runs that far past
    it. Returns when the agent is free."""
    team = agent.team
    while True:
        while aux and aux[0][0] <= t:
            _, state, reason, dur = aux.pop(0)
            if t + dur < until - MIN:
                tl.emit(t, state, reason)
                t = tl.emit(t + dur, READY)
        wait = int(min(max(rng.expovariate(1 / team.wait_s), 2), 900) * SEC)
        ring = t + wait
        if ring >= until:
            return max(t, until)
        outbound = rng.random() < team.outbound
        alert = 0 if outbound else rng.randint(3 * SEC, 12 * SEC)
        talk = _lognormal(rng, team.talk_s * agent.pace, 25, 2400)
        hold = rng.randint(15 * SEC, 150 * SEC) if rng.random() < team.hold else 0
        wrap = rng.randint(10 * SEC, 120 * SEC)
        end = ring + alert + talk + hold + wrap
        last = False
        if end > until:
            if not overrun:
                return until  # ready, but takes no call it cannot finish
            talk = max(talk, until + overrun - (ring + alert + hold + wrap))
            end, last = ring + alert + talk + hold + wrap, True
        if outbound:
            tl.emit(ring, BUSY_OTHER)
        else:
            tl.emit(ring, RESERVED)
            tl.emit(ring + alert, TALKING)
        if hold:
            first = int(talk * rng.uniform(0.2, 0.7))
            tl.emit(ring + alert + first, HOLD)
            tl.emit(ring + alert + first + hold, BUSY_OTHER if outbound else TALKING)
        tl.emit(end - wrap, WORK_NOT_READY if rng.random() < 0.75 else WORK_READY)
        t = tl.emit(end, READY)
        if last:
            return t


def _chat_work(rng: random.Random, tl: _Timeline, agent: Agent, t: int, until: int,
               overrun: int, aux: list[Aux]) -> int:
    """Concurrent chats from ``t`` (READY) until the agent leaves at ``until``: new
    chats are taken up to 3 minutes before it, and the last ones hurried to end
    before it, unless ``overrun`` lets them run up to that far past it."""
    team = agent.team
    capacity = agent.capacity or 1
    ongoing: list[int] = []
    cutoff = until - 3 * MIN
    nxt = t + int(rng.expovariate(1 / team.wait_s) * SEC)
    while True:
        end = min(ongoing) if ongoing else None
        due = bool(aux) and aux[0][0] <= min(nxt, end if end is not None else nxt)
        accepting = not due and nxt < cutoff
        if end is not None and (not accepting or end <= nxt):
            ongoing.remove(end)
            tl.chats = len(ongoing)
            t = tl.emit(end, TALKING if ongoing else READY)
            continue
        if accepting:
            t = nxt
            if len(ongoing) < capacity:
                finish = t + _lognormal(rng, team.talk_s * agent.pace, 60, 2400)
                if not overrun and finish > until - 5 * SEC:
                    finish = max(t + 30 * SEC, until - rng.randint(5 * SEC, 40 * SEC))
                elif overrun:
                    finish = min(finish, until + overrun)
                ongoing.append(finish)
                tl.chats = len(ongoing)
                t = tl.emit(t, TALKING)
            nxt = t + int(rng.expovariate(1 / team.wait_s) * SEC)
            continue
        if due:
            at, state, reason, dur = aux.pop(0)
            start = max(t, at)
            if start + dur < cutoff:
                tl.emit(start, state, reason)
                t = tl.emit(start + dur, READY)
                nxt = t + int(rng.expovariate(1 / team.wait_s) * SEC)
            continue
        return max(t, until)


def _states(spec: Centre, agent: Agent, plan: Plan) -> list[tuple[int, int, int | None,
                                                                   int | None]]:
    """The agent's state events of one shift."""
    rng = random.Random(f"centre:{spec.seed}:states:{agent.index}:{plan.day.isoformat()}")
    d = agent.discipline
    s, e = plan.start, plan.end
    hours = (e - s) / HOUR
    aux: list[Aux] = []
    for _ in range(_poisson(rng, 0.9 * d * hours)):  # personal time, off the schedule
        aux.append((rng.randint(s + 30 * MIN, e - 30 * MIN), NOT_READY,
                    rng.choice(PERSONAL_REASONS), rng.randint(40 * SEC, 10 * MIN)))
    if rng.random() < 0.25:  # the ACD does not know what the agent is doing
        aux.append((rng.randint(s + 30 * MIN, e - 30 * MIN), UNKNOWN, None,
                    rng.randint(15 * SEC, 150 * SEC)))
    aux.sort()
    work = _chat_work if agent.team.chat else _phone_work
    tl = _Timeline(agent.capacity)
    if rng.random() < 0.10 * d:
        login = s + rng.randint(5 * MIN, 20 * MIN)  # late
    else:
        login = s + rng.randint(-6 * MIN, 90 * SEC)
    if rng.random() < 0.04 * d:
        leave = e - rng.randint(10 * MIN, 30 * MIN)  # early
    else:
        leave = e + rng.randint(-20 * SEC, 3 * MIN)
    if rng.random() < 0.03:  # a glitch at login
        tl.emit(login, UNKNOWN)
        t = tl.emit(login + rng.randint(10 * SEC, 60 * SEC), READY)
    else:
        t = tl.emit(login, READY)
    blocks = sorted([*plan.blocks, *([plan.change] if plan.change else [])],
                    key=lambda b: b.start)
    for b in blocks:
        overrun = rng.randint(2 * MIN, 7 * MIN) if rng.random() < 0.10 * d else 0
        t = work(rng, tl, agent, t, b.start + rng.randint(-45 * SEC, 40 * SEC), overrun, aux)
        t = tl.emit(t, NOT_READY, b.reason)
        late = rng.random() < (0.3 if b.activity == "LUNCH" else 0.12) * d
        back = b.end + (rng.randint(90 * SEC, 8 * MIN) if late
                        else rng.randint(-40 * SEC, 45 * SEC))
        t = tl.emit(max(back, t + SEC), READY)
    t = work(rng, tl, agent, t, leave, 0, aux)
    tl.chats = 0
    tl.emit(t, LOGOUT)
    return tl.events


def _poisson(rng: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


# ---------------------------------------------------------------------- records
def _schedule(spec: Centre, agent: Agent, lo: int, hi: int,
              acts: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    return {"tenantId": spec.tenant, "agentId": agent.agent_id,
            "employeeId": f"E{agent.agent_id}", "acdServerId": agent.server,
            "acdAgentId": agent.acd, "agentTimeZone": spec.time_zone,
            "team": agent.team.name, "agentName": agent.name,
            "fromTimestamp": lo, "toTimestamp": hi,
            "activities": [{"activityType": t, "activityTypeLabel": label,
                            "activityDetailName": agent.team.name,
                            "startTime": s, "endTime": e} for t, label, s, e in acts]}


def agent_records(spec: Centre, index: int, zone: ZoneInfo | None = None
                  ) -> list[tuple[int, dict[str, Any]]]:
    """``(arrival ms, record)`` of the ``index``-th agent's records (in the order
    generated; :func:`generate_timed` merges them by arrival)."""
    zone = zone or ZoneInfo(spec.time_zone)
    out: list[tuple[int, dict[str, Any]]] = []
    agent = make_agent(spec, index)
    plans = [_plan(spec, agent, zone, spec.start + timedelta(days=k)) for k in range(spec.days)]
    known_late = random.Random(f"centre:{spec.seed}:known:{agent.index}").random() \
        < spec.identities_known_late_fraction
    # one window per local day (one more: the tail of the last overnight shift),
    # with every activity overlapping it; the engine clips them to the window
    for k in range(spec.days + 1):
        d = spec.start + timedelta(days=k)
        lo, hi = _midnight(zone, d), _midnight(zone, d + timedelta(days=1))
        acts = [a for p in plans[max(0, k - 1):k + 1] for a in p.activities
                if a[2] < hi and a[3] > lo]
        if k == spec.days and not acts:
            break
        publish = lo - 6 * HOUR  # the evening before
        if known_late and k == 0:
            publish = plans[0].start + 3 * HOUR
        out.append((publish, {"kind": "schedule", "body": _schedule(spec, agent, lo, hi, acts)}))
    for plan in plans:
        if plan.change:
            c = plan.change
            out.append((plan.change_published, {"kind": "schedule", "body": _schedule(
                spec, agent, c.start, c.end, [(c.activity, c.label, c.start, c.end)])}))
        rng = random.Random(f"centre:{spec.seed}:delivery:{agent.index}:{plan.day.isoformat()}")
        stamp = f"{spec.tenant}-{agent.acd}-{plan.day:%Y%m%d}"
        for i, (ts, state, reason, chats) in enumerate(_states(spec, agent, plan)):
            body: dict[str, Any] = {
                "tenantId": spec.tenant, "acdServerId": agent.server, "acdAgentId": agent.acd,
                "gisStateIdentifier": state, "timestamp": ts, "reasonCode": reason,
                "eventId": f"{stamp}-{i:05d}"}
            if chats is not None:
                body["chatCapacity"] = agent.capacity
                body["chatsInProgress"] = chats
            arrival = ts + rng.randint(50, 900)
            if rng.random() < spec.late_fraction:
                arrival += rng.randint(MIN, 20 * MIN)
            out.append((arrival, {"kind": "state", "body": body}))
            if rng.random() < spec.duplicate_fraction:
                out.append((arrival + rng.randint(SEC, 5 * MIN), {"kind": "state", "body": body}))
    return out


def generate_timed(spec: Centre) -> list[tuple[int, dict[str, Any]]]:
    """``(arrival ms, record)`` of every event-log record, in arrival order (records
    arriving at the same millisecond: by agent, then as generated)."""
    zone = ZoneInfo(spec.time_zone)
    timed = [(arrival, n, i, record) for n in range(spec.agents)
             for i, (arrival, record) in enumerate(agent_records(spec, spec.first_agent + n,
                                                                 zone))]
    timed.sort(key=lambda x: (x[0], x[1], x[2]))
    return [(arrival, record) for arrival, _, _, record in timed]


def generate(spec: Centre) -> Iterator[dict[str, Any]]:
    """Event-log records in arrival order."""
    for _, record in generate_timed(spec):
        yield record
