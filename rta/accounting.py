"""Millisecond accounting of effective-state runs against the schedule."""

from __future__ import annotations

from typing import Any

from rta.calendar import DayCalendar
from rta.rules import Adherence, Rules
from rta.schedule import AgentSchedule
from rta.states import IN_SERVICE_STATES, LOGOUT, RTAS_NAMES
from rta.timeline import Reason

IN, OUT, NEUTRAL = Adherence.IN, Adherence.OUT, Adherence.NEUTRAL


class Run:
    """One run of an effective (state, reason) inside one activity part."""

    __slots__ = ("end", "in_ms", "out_ms", "reason", "start", "state")

    def __init__(self, start: int, end: int, state: int, reason: Reason) -> None:
        self.start = start
        self.end = end
        self.state = state
        self.reason = reason
        self.in_ms = 0
        self.out_ms = 0

    def to_json(self) -> dict[str, Any]:
        """The ``actuals`` entry."""
        return {
            "actualAgentState": RTAS_NAMES[self.state],
            "gisStateIdentifier": self.state,
            "actualAgentStateStartTime": self.start,
            "actualReasonCode": self.reason,
            "inAdherenceSeconds": seconds(self.in_ms),
            "outOfAdherenceSeconds": seconds(self.out_ms),
        }

    def clone(self) -> Run:
        r = Run(self.start, self.end, self.state, self.reason)
        r.in_ms, r.out_ms = self.in_ms, self.out_ms
        return r


class DetailAcc:
    """One activity part inside one day: its sums and runs, and the runs' ``actuals``
    entries kept current as runs are accounted (so building a summary copies a list)."""

    __slots__ = ("actuals", "in_ms", "out_ms", "runs")

    def __init__(self) -> None:
        self.in_ms = 0
        self.out_ms = 0
        self.runs: list[Run] = []
        self.actuals: list[dict[str, Any]] = []

    def clone(self) -> DetailAcc:
        d = DetailAcc()
        d.in_ms, d.out_ms = self.in_ms, self.out_ms
        d.runs = [r.clone() for r in self.runs]
        d.actuals = list(self.actuals)
        return d


class DayAcc:
    """Sums of one agent-day, in ms, over the time accounted so far."""

    __slots__ = (
        "details",
        "in_ms",
        "in_service_ms",
        "logged_in_ms",
        "neutral_ms",
        "out_ms",
        "unscheduled_ms",
    )

    def __init__(self) -> None:
        self.in_ms = 0
        self.out_ms = 0
        self.neutral_ms = 0
        self.unscheduled_ms = 0
        self.in_service_ms = 0
        self.logged_in_ms = 0
        self.details: dict[int, DetailAcc] = {}  # by part start

    def clone(self) -> DayAcc:
        d = DayAcc()
        d.in_ms, d.out_ms, d.neutral_ms = self.in_ms, self.out_ms, self.neutral_ms
        d.unscheduled_ms, d.in_service_ms = self.unscheduled_ms, self.in_service_ms
        d.logged_in_ms = self.logged_in_ms
        d.details = {k: v.clone() for k, v in self.details.items()}
        return d


def merged(base: DayAcc, overlay: DayAcc | None) -> DayAcc:
    """A new accumulator: ``base`` then ``overlay`` (a later, adjacent span)."""
    acc = base.clone()
    if overlay is None:
        return acc
    acc.in_ms += overlay.in_ms
    acc.out_ms += overlay.out_ms
    acc.neutral_ms += overlay.neutral_ms
    acc.unscheduled_ms += overlay.unscheduled_ms
    acc.in_service_ms += overlay.in_service_ms
    acc.logged_in_ms += overlay.logged_in_ms
    for key, d in overlay.details.items():
        into = acc.details.get(key)
        if into is None:
            acc.details[key] = d.clone()
        else:
            into.in_ms += d.in_ms
            into.out_ms += d.out_ms
            into.runs.extend(r.clone() for r in d.runs)
            into.actuals.extend(d.actuals)
    return acc


def seconds(ms: int) -> int:
    """Whole seconds, round half up."""
    return (ms + 500) // 1000


def account_in_day(acc: DayAcc, a: int, b: int, state: int, reason: Reason,
                   schedule: AgentSchedule, rules: Rules, tolerance_ms: int) -> None:
    """Add ``[a, b)`` (inside one day) in ``(state, reason)`` to ``acc``."""
    logged = state != LOGOUT
    if logged:
        acc.logged_in_ms += b - a
    if state in IN_SERVICE_STATES:
        acc.in_service_ms += b - a
    parts = schedule.parts
    n = len(parts)
    i = schedule.index_at(a)
    t = a
    while t < b:
        if i >= n or parts[i].start >= b:
            if logged:
                acc.unscheduled_ms += b - t
            return
        p = parts[i]
        if p.start > t:
            if logged:
                acc.unscheduled_ms += p.start - t
            t = p.start
        y = p.end if p.end < b else b
        cls = rules.classify(p.category, state, reason)
        detail = acc.details.get(p.start)
        if detail is None:
            detail = acc.details[p.start] = DetailAcc()
        if cls is OUT and tolerance_ms and t < p.start + tolerance_ms:
            z = min(y, p.start + tolerance_ms)
            _add(acc, detail, t, z, NEUTRAL, state, reason)
            if z < y:
                _add(acc, detail, z, y, OUT, state, reason)
        else:
            _add(acc, detail, t, y, cls, state, reason)
        t = y
        i += 1


def _add(acc: DayAcc, detail: DetailAcc, x: int, y: int, cls: Adherence, state: int,
         reason: Reason) -> None:
    ms = y - x
    runs = detail.runs
    if runs and runs[-1].end == x and runs[-1].state == state and runs[-1].reason == reason:
        run = runs[-1]
        run.end = y
        extended = True
    else:
        run = Run(x, y, state, reason)
        runs.append(run)
        extended = False
    if cls is IN:
        acc.in_ms += ms
        detail.in_ms += ms
        run.in_ms += ms
    elif cls is OUT:
        acc.out_ms += ms
        detail.out_ms += ms
        run.out_ms += ms
    else:
        acc.neutral_ms += ms
    if extended:
        detail.actuals[-1] = run.to_json()
    else:
        detail.actuals.append(run.to_json())


def account(days: dict[int, DayAcc], skip: set[int], touched: set[int], a: int, b: int,
            state: int, reason: Reason, calendar: DayCalendar, schedule: AgentSchedule,
            rules: Rules, tolerance_ms: int) -> None:
    """Add ``[a, b)`` to every day it covers, except days in ``skip``."""
    t = a
    while t < b:
        o, _, de = calendar.day(t)
        e = b if b < de else de
        touched.add(o)
        if o not in skip:
            acc = days.get(o)
            if acc is None:
                acc = days[o] = DayAcc()
            account_in_day(acc, t, e, state, reason, schedule, rules, tolerance_ms)
        t = e
