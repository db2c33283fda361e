"""A synthetic contact centre: schedules and ACD state events as an event log.

Deterministic for a seed. Each agent gets one schedule message per day
(local midnight to midnight, published the day before) with a shift, two
breaks and a lunch; a share of agents work overnight shifts, a share have a
chat channel, and a share of days get a mid-day schedule change. State
events follow a plausible contact cycle. Arrival order is event-time order
except for the late share (delivered minutes to hours later) and the
duplicate share (delivered twice).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MIN = 60_000
HOUR = 60 * MIN


@dataclass(frozen=True)
class CentreSpec:
    agents: int = 50
    days: int = 2
    start: date = date(2026, 3, 7)
    time_zone: str = "America/Chicago"
    tenant: str = "demo"
    seed: int = 1
    late_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    multichannel_fraction: float = 0.1
    overnight_fraction: float = 0.1
    schedule_change_fraction: float = 0.1
    identities_known_late_fraction: float = 0.0
    first_agent: int = 0  # agent ids start at 1000 + this (to generate a centre in parts)


def _local_ms(zone: ZoneInfo, d: date, minutes: int) -> int:
    local = datetime(d.year, d.month, d.day, tzinfo=zone) + timedelta(minutes=minutes)
    # wall-clock arithmetic: re-attach the zone so DST days keep local times
    wall = datetime(local.year, local.month, local.day, local.hour, local.minute,
                    tzinfo=zone)
    return int(wall.timestamp() * 1000)


def _midnight(zone: ZoneInfo, d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)


def _shift(rng: random.Random, zone: ZoneInfo, d: date, overnight: bool
           ) -> list[tuple[str, int, int]]:
    start_min = rng.choice([20 * 60, 21 * 60, 22 * 60]) if overnight else \
        rng.choice(range(6 * 60, 13 * 60, 30))
    s = _local_ms(zone, d, start_min)
    e = s + 8 * HOUR + 30 * MIN
    acts = [("IN_SERVICE", s, e),
            ("BREAK", s + 2 * HOUR, s + 2 * HOUR + 15 * MIN),
            ("LUNCH", s + 4 * HOUR, s + 4 * HOUR + 30 * MIN),
            ("BREAK", s + 6 * HOUR + 30 * MIN, s + 6 * HOUR + 45 * MIN)]
    if rng.random() < 0.2:
        acts.append(("PROJECT", s + 7 * HOUR, s + 7 * HOUR + 30 * MIN))
    return acts


def _states(rng: random.Random, acts: list[tuple[str, int, int]], acd: str, server: str,
            tenant: str, counter: list[int]) -> list[dict[str, Any]]:
    """A day of one identity: login, contact cycles, breaks off the phone, logout."""
    start, end = acts[0][1], acts[0][2]
    offline = sorted((s, e) for t, s, e in acts[1:] if t in ("BREAK", "LUNCH", "PROJECT"))
    out: list[dict[str, Any]] = []

    def emit(ts: int, state: int, reason: Any = None) -> None:
        counter[0] += 1
        out.append({"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
                    "gisStateIdentifier": state, "timestamp": ts, "reasonCode": reason,
                    "eventId": f"{tenant}-{acd}-{counter[0]}"})

    t = start + rng.randint(-5 * MIN, 10 * MIN)
    emit(t, 3)
    logout = end + rng.randint(-15 * MIN, 10 * MIN)
    i = 0
    while t < logout:
        if i < len(offline) and t >= offline[i][0] - rng.randint(0, 2 * MIN):
            s, e = offline[i]
            emit(max(t, s + rng.randint(-60_000, 90_000)), 2, rng.choice([11, 12, "Lunch"]))
            t = e + rng.randint(-60_000, 5 * MIN)
            emit(t, 3)
            i += 1
            continue
        t += rng.randint(5_000, 90_000)
        emit(t, 4)
        if rng.random() < 0.2:
            t += rng.randint(5_000, 60_000)
            emit(t, 10)
            t += rng.randint(5_000, 60_000)
            emit(t, 4)
        t += rng.randint(30_000, 400_000)
        emit(t, rng.choice([5, 6]))
        t += rng.randint(5_000, 120_000)
        emit(t, 3 if rng.random() < 0.95 else 9)
    emit(max(t, logout), 1, rng.choice([None, "", 5]))
    return out


def generate(spec: CentreSpec) -> Iterator[dict[str, Any]]:
    """Event-log records in arrival order."""
    rng = random.Random(spec.seed)
    zone = ZoneInfo(spec.time_zone)
    counter = [0]
    timed: list[tuple[int, int, dict[str, Any]]] = []  # (arrival, seq, record)
    seq = 0

    def deliver(arrival: int, record: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        timed.append((arrival, seq, record))

    for n in range(spec.agents):
        agent_id = 1000 + spec.first_agent + n
        acd = str(100_000 + spec.first_agent + n)
        chat = f"chat-{agent_id}" if rng.random() < spec.multichannel_fraction else None
        overnight = rng.random() < spec.overnight_fraction
        known_late = rng.random() < spec.identities_known_late_fraction
        shifts = [_shift(rng, zone, spec.start + timedelta(days=k), overnight)
                  for k in range(spec.days)]
        # one more window than days: the tail of the last day's overnight shift
        for k in range(spec.days + 1):
            d = spec.start + timedelta(days=k)
            lo, hi = _midnight(zone, d), _midnight(zone, d + timedelta(days=1))
            overlapping = [a for sh in shifts[max(0, k - 1):k + 1] for a in sh
                           if a[1] < hi and a[2] > lo]
            if k == spec.days:
                if overlapping:
                    deliver(lo - 12 * HOUR, {"kind": "schedule", "body": {
                        "tenantId": spec.tenant, "agentId": agent_id, "acdServerId": "1",
                        "acdAgentId": acd, "fromTimestamp": lo, "toTimestamp": hi,
                        "activities": [{"activityType": t, "startTime": s, "endTime": e}
                                       for t, s, e in overlapping]}})
                break
            acts = shifts[k]
            # one window per local day, with every activity overlapping it (an overnight
            # shift of yesterday included); the engine clips them to the window
            sched = {"tenantId": spec.tenant, "agentId": agent_id, "employeeId": f"E{agent_id}",
                     "acdServerId": "1", "acdAgentId": acd,
                     "agentTimeZone": spec.time_zone,
                     "fromTimestamp": lo, "toTimestamp": hi,
                     "activities": [{"activityType": t, "startTime": s, "endTime": e,
                                     "activityTypeLabel": t.title()} for t, s, e in overlapping]}
            if chat:
                sched["acdIdentities"] = [{"acdServerId": "2", "acdAgentId": chat}]
            publish = lo - 12 * HOUR
            if known_late and k == 0:
                publish = acts[0][1] + 3 * HOUR
            deliver(publish, {"kind": "schedule", "body": sched})
            if rng.random() < spec.schedule_change_fraction:
                # mid-day change: a meeting replaces an hour of the afternoon
                s = acts[0][1] + 5 * HOUR
                change = dict(sched, fromTimestamp=s, toTimestamp=s + HOUR,
                              activities=[{"activityType": "ASSIGNMENT", "startTime": s,
                                           "endTime": s + HOUR}])
                deliver(s - rng.randint(-30 * MIN, 2 * HOUR), {"kind": "schedule",
                                                               "body": change})
            events = _states(rng, acts, acd, "1", spec.tenant, counter)
            if chat:
                events += _states(rng, acts, chat, "2", spec.tenant, counter)
            for ev in events:
                arrival = ev["timestamp"] + rng.randint(0, 500)
                if rng.random() < spec.late_fraction:
                    arrival += rng.randint(MIN, 6 * HOUR)
                deliver(arrival, {"kind": "state", "body": ev})
                if rng.random() < spec.duplicate_fraction:
                    deliver(arrival + rng.randint(0, 10 * MIN), {"kind": "state", "body": ev})
    timed.sort(key=lambda x: (x[0], x[1]))
    for _, _, record in timed:
        yield record
