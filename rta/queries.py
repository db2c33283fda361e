"""Answers to the HTTP queries, from the core's own objects (pure).

* Real-Time Agent States (Webex ``realTime/activity/detail``): an agent's state
  changes in ``[fromTime, toTime)``, plus the state it was already in at
  ``fromTime`` (Webex: "a state that begins before the parameters you select"
  is included).
* Adherence pages: day summaries sorted by agent id, paged as Webex pages them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from rta.agent import AgentReducer
from rta.models import MAX_TIMESTAMP
from rta.states import RTAS_NAMES, STATE_NAMES
from rta.summary import agent_sort_key

MAX_RANGE_MS = 31 * 86_400_000  # Webex: "a time range of up to 31 days"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 25
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
T = TypeVar("T")


class QueryError(ValueError):
    """A query parameter that is wrong; the text names it."""


def activity_detail(reducer: AgentReducer, from_ts: int, to_ts: int) -> dict[str, Any] | None:
    """One agent's entry of the Real-Time Agent States response (None: no state data).

    The runs are the agent's effective state (all its ACD identities merged, as
    adherence sees it) in Webex names; consecutive runs with the same name and
    reason (work-ready then work-not-ready, say) are one entry, which starts
    where the first of them starts.
    """
    eff = reducer.eff
    if not eff.times:
        return None

    def label(i: int) -> tuple[str, str | None]:
        state, reason = eff.values[i]
        return RTAS_NAMES[state], None if reason is None else str(reason)

    first = max(eff.index_at(from_ts), 0)
    while first > 0 and label(first - 1) == label(first):
        first -= 1  # the state in progress at fromTime began with an earlier run
    activities: list[dict[str, Any]] = []
    for i in range(first, len(eff.times)):
        t = eff.times[i]
        if t >= to_ts:
            break
        name, code = label(i)
        if activities and (activities[-1]["agentState"], activities[-1]["reasonCode"]) == (
                name, code):
            continue
        activities.append({"agentState": name, "reasonCode": code, "timestamp": t})
    if not activities:
        return None
    return {"agentId": reducer.agent_id, "employeeId": None, "acdAgentId": reducer.acd_agent_id,
            "realTimeActivities": activities}


def timeline(reducer: AgentReducer, day_start: int, day_end: int, as_of: int
             ) -> dict[str, Any]:
    """One agent's day as the monitor draws it: the scheduled (counted) activities of
    ``[day_start, day_end)``, the effective states and the adherence of each stretch
    up to ``as_of`` (unscheduled time left out), each as runs of equal values merged.
    The same pieces the day summaries add up (``AgentReducer.pieces``). Nothing
    before the agent's floor (days final and pruned here): no state is made up
    for time whose events are gone; ``from`` says where the runs begin."""
    schedule = [{"start": max(p.start, day_start), "end": min(p.end, day_end),
                 "activity": p.activity_type, "category": p.category}
                for p in reducer.schedule.parts if p.start < day_end and p.end > day_start]
    states: list[dict[str, Any]] = []
    adherence: list[dict[str, Any]] = []
    upto = min(day_end, as_of)
    begin = day_start if reducer.floor is None else max(day_start, reducer.floor)
    if upto > begin:
        for a, b, cls, _, (state, reason) in reducer.pieces(begin, upto):
            name = STATE_NAMES[state]
            if states and states[-1]["end"] == a and (
                    states[-1]["state"], states[-1]["reasonCode"]) == (name, reason):
                states[-1]["end"] = b
            else:
                states.append({"start": a, "end": b, "state": name, "reasonCode": reason})
            if cls is None:
                continue
            if adherence and adherence[-1]["end"] == a and adherence[-1]["adherence"] == cls.name:
                adherence[-1]["end"] = b
            else:
                adherence.append({"start": a, "end": b, "adherence": cls.name})
    return {"agentId": reducer.agent_id, "acdAgentId": reducer.acd_agent_id,
            "dayStart": day_start, "dayEnd": day_end, "asOf": as_of, "from": begin,
            "schedule": schedule, "states": states, "adherence": adherence}


def check_range(from_ts: Any, to_ts: Any) -> tuple[int, int]:
    """``fromTime``/``toTime`` query values as epoch ms, checked (at most 31 days)."""
    out = []
    for name, v in (("fromTime", from_ts), ("toTime", to_ts)):
        if v is None:
            raise QueryError(f"{name} is required (epoch milliseconds)")
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise QueryError(f"{name} must be epoch milliseconds, got {v!r}") from None
        if not 0 <= n < MAX_TIMESTAMP:
            raise QueryError(f"{name} must be epoch milliseconds from 0 to before the year "
                             f"10000, got {n}")
        out.append(n)
    a, b = out
    if b <= a:
        raise QueryError(f"toTime ({b}) must be after fromTime ({a})")
    if b - a > MAX_RANGE_MS:
        raise QueryError(f"the range is {(b - a) / 86_400_000:.2f} days; at most 31 days")
    return a, b


def check_date(v: Any) -> str:
    if v is None:
        raise QueryError("date is required (YYYY-MM-DD)")
    s = str(v)
    try:
        if DATE.fullmatch(s):  # fromisoformat alone also reads ISO weeks (2026-W49-1)
            return date.fromisoformat(s).isoformat()
    except ValueError:
        pass
    raise QueryError(f"date must be YYYY-MM-DD, got {s!r}")


def check_page(size: Any, number: Any) -> tuple[int, int]:
    out = []
    for name, v, default, hi in (("pageSize", size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
                                 ("pageNumber", number, 1, None)):
        if v is None or v == "":
            out.append(default)
            continue
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise QueryError(f"{name} must be a whole number, got {v!r}") from None
        if n < 1 or (hi is not None and n > hi):
            raise QueryError(f"{name} must be 1-{hi}, got {n}" if hi else
                             f"{name} must be at least 1, got {n}")
        out.append(n)
    return out[0], out[1]


def page(items: Sequence[T], size: int, number: int) -> list[T]:
    start = (number - 1) * size
    return list(items[start:start + size])


def sort_by_agent(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: agent_sort_key(str(r.get("agentId"))))
