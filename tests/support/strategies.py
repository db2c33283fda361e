"""Hypothesis strategies: small random centres that stress the core's edges.

Times sit on a coarse grid (plus odd milliseconds) across three days around
the America/Chicago spring-forward day, so overlaps, same-instant events,
midnights and a 23-hour day are all common.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

BASE = int(datetime(2026, 3, 7, 0, 0, tzinfo=UTC).timestamp() * 1000)
STEP = 15 * 60_000
SPAN_STEPS = 4 * 24 * 4  # four days of 15-minute steps
TENANT = "t1"

IDENTITIES = [("1", "a"), ("1", "b"), ("2", "a"), ("2", "chat-c")]
AGENTS = [7, 8, 10]
ACTIVITY_TYPES = ["in_service", "IN_SERVICE", "break", "Lunch", "project", "not_available",
                  "overtime", "training"]
REASONS: list[Any] = [None, "", " ", 5, "5", "x", 65535]


@st.composite
def instants(draw: st.DrawFn) -> int:
    step = draw(st.integers(0, SPAN_STEPS))
    jitter = draw(st.sampled_from([0, 0, 0, 1, 500, 1500, 59_999, 7 * 60_000]))
    return BASE + step * STEP + jitter


#: Alert scenarios live on a finer grid: half a day of 5-minute steps from 08:00,
#: with jitters around a minute, so runs near a 60 s threshold are common.
ALERT_BASE = BASE + 8 * 3600_000
ALERT_STEP = 5 * 60_000
ALERT_SPAN_STEPS = 12 * 12


@st.composite
def alert_instants(draw: st.DrawFn) -> int:
    step = draw(st.integers(0, ALERT_SPAN_STEPS))
    jitter = draw(st.sampled_from([0, 0, 0, 1, 30_000, 59_999, 60_000, 61_000, 150_000]))
    return ALERT_BASE + step * ALERT_STEP + jitter


@st.composite
def state_events(draw: st.DrawFn, index: int,
                 at: st.SearchStrategy[int] | None = None) -> dict[str, Any]:
    server, acd = draw(st.sampled_from(IDENTITIES))
    body: dict[str, Any] = {
        "tenantId": TENANT, "acdServerId": server, "acdAgentId": acd,
        "gisStateIdentifier": draw(st.sampled_from([*range(1, 11), "3", "4", "1"])),
        "timestamp": draw(at if at is not None else instants()),
        "reasonCode": draw(st.sampled_from(REASONS)),
    }
    if draw(st.booleans()):
        body["eventId"] = f"e{index}"
    return {"kind": "state", "body": body}


@st.composite
def schedules(draw: st.DrawFn, at: st.SearchStrategy[int] | None = None,
              agents: list[int] | None = None) -> dict[str, Any]:
    at = at if at is not None else instants()
    agent = draw(st.sampled_from(agents or AGENTS))
    idents = draw(st.lists(st.sampled_from(IDENTITIES), min_size=1, max_size=3, unique=True))
    a, b = sorted(draw(st.lists(at, min_size=2, max_size=2, unique=True)))
    acts = []
    for _ in range(draw(st.integers(0, 5))):
        s, e = sorted(draw(st.lists(at, min_size=2, max_size=2, unique=True)))
        acts.append({"activityType": draw(st.sampled_from(ACTIVITY_TYPES)),
                     "startTime": s, "endTime": e, "activityDetailName": "x"})
    return {"kind": "schedule", "body": {
        "tenantId": TENANT, "agentId": agent,
        "acdServerId": idents[0][0], "acdAgentId": idents[0][1],
        "acdIdentities": [{"acdServerId": s, "acdAgentId": i} for s, i in idents[1:]],
        "fromTimestamp": a, "toTimestamp": b, "activities": acts,
    }}


@st.composite
def tenant_settings(draw: st.DrawFn) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "time_zone": draw(st.sampled_from(["UTC", "America/Chicago", "Asia/Kathmandu"])),
        "switch_tolerance_seconds": draw(st.sampled_from([0, 0, 30, 600])),
    }
    if draw(st.booleans()):
        settings["rule_overrides"] = [
            {"category": "BREAK", "state": "NOT_READY", "reason_code": 5, "adherence": "OUT"},
            {"category": "IN_SERVICE", "state": "UNKNOWN", "adherence": "OUT"},
        ]
    if draw(st.booleans()):
        settings["activity_categories"] = {"training": "OFF_PHONE"}
    return settings


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict]:
    """``(state events, schedule messages in order, tenants)``."""
    n = draw(st.integers(0, 25))
    events = [draw(state_events(i)) for i in range(n)]
    scheds = draw(st.lists(schedules(), min_size=1, max_size=5))
    return events, scheds, {TENANT: draw(tenant_settings())}


@st.composite
def arrival_orders(draw: st.DrawFn, events: list[dict[str, Any]],
                   scheds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in any order with duplicates, interleaved anywhere with the schedules."""
    dups = draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    shuffled = draw(st.permutations(events + dups))
    out: list[dict[str, Any]] = []
    remaining = list(scheds)
    for rec in shuffled:
        while remaining and draw(st.booleans()):
            out.append(remaining.pop(0))
        out.append(rec)
    out.extend(remaining)
    return out


@st.composite
def alert_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict]:
    """``(state events, schedule messages, tenants)`` on the alert grid, with
    thresholds of one minute to half an hour (by category sometimes)."""
    n = draw(st.integers(0, 14))
    events = [draw(state_events(i, alert_instants())) for i in range(n)]
    scheds = draw(st.lists(schedules(alert_instants(), [7, 8]), min_size=1, max_size=4))
    settings = draw(tenant_settings())
    settings["alert_after_seconds"] = draw(st.sampled_from([60, 60, 240, 1800]))
    if draw(st.booleans()):
        settings["alert_after_seconds_by_category"] = {"BREAK": 300, "OFF_PHONE": 61}
    return events, scheds, {TENANT: settings}


@st.composite
def evaluation_times(draw: st.DrawFn, last: int) -> int:
    """Mostly a little after ``last`` (a clock), sometimes anywhere (even before)."""
    return draw(st.one_of(
        st.integers(0, 3 * 60_000).map(lambda d: last + d),
        st.sampled_from([0, 59_999, 60_000, 61_000, 10 * 60_000]).map(lambda d: last + d),
        alert_instants()))


@st.composite
def alert_steps(draw: st.DrawFn, events: list[dict[str, Any]],
                scheds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input in any arrival order (late events and late schedule changes) with
    evaluations ``{"kind": "eval", "now": ms}`` interleaved anywhere, then a last
    evaluation after everything."""
    records = draw(arrival_orders(events, scheds))
    steps: list[dict[str, Any]] = []
    last = ALERT_BASE
    for rec in records:
        for _ in range(draw(st.integers(0, 2))):
            last = draw(evaluation_times(last))
            steps.append({"kind": "eval", "now": last})
        steps.append(rec)
    steps.append({"kind": "eval", "now": ALERT_BASE + (ALERT_SPAN_STEPS + 2) * ALERT_STEP})
    return steps
