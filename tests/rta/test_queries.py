"""Real-Time Agent States from a reducer, and the query parameter checks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from rta.accounting import seconds
from rta.queries import (
    MAX_RANGE_MS,
    QueryError,
    activity_detail,
    check_date,
    check_page,
    check_range,
    page,
    sort_by_agent,
    timeline,
)
from rta.replay import replay_log
from rta.states import RTAS_NAMES
from tests.support.strategies import BASE, SPAN_STEPS, STEP, arrival_orders, scenarios


def brute_force(times: list[int], values: list[Any], a: int, b: int) -> list[dict[str, Any]]:
    """Merge equal neighbouring runs over the whole timeline, then keep the runs that
    overlap [a, b)."""
    runs: list[list[Any]] = []
    for t, (state, reason) in zip(times, values, strict=True):
        label = (RTAS_NAMES[state], None if reason is None else str(reason))
        if runs and runs[-1][1] == label:
            continue
        runs.append([t, label])
    out = []
    for i, (t, (name, code)) in enumerate(runs):
        end = runs[i + 1][0] if i + 1 < len(runs) else None
        if t < b and (end is None or end > a):
            out.append({"agentState": name, "reasonCode": code, "timestamp": t})
    return out


@given(data=st.data())
def test_activity_detail_equals_brute_force_and_any_arrival_order(data: st.DataObject) -> None:
    events, scheds, tenants = data.draw(scenarios())
    in_order = replay_log([*scheds, *sorted(events, key=lambda r: r["body"]["timestamp"])],
                          tenants).engine
    shuffled = replay_log(data.draw(arrival_orders(events, scheds)), tenants).engine
    assert in_order is not None and shuffled is not None
    a = BASE + data.draw(st.integers(-4, SPAN_STEPS)) * STEP + data.draw(
        st.sampled_from([0, 1, -1]))
    b = a + data.draw(st.integers(1, SPAN_STEPS)) * STEP + data.draw(st.sampled_from([0, 1]))
    for key, reducer in in_order.agents.items():
        got = activity_detail(shuffled.agents[key], a, b)
        want = brute_force(reducer.eff.times, reducer.eff.values, a, b)
        assert (got["realTimeActivities"] if got else []) == want
        assert got == activity_detail(reducer, a, b)


def test_range_checks() -> None:
    assert check_range("0", "1") == (0, 1)
    assert check_range(5, 5 + MAX_RANGE_MS) == (5, 5 + MAX_RANGE_MS)
    for args, words in [((None, 1), "fromTime is required"), ((1, None), "toTime is required"),
                        (("x", 1), "fromTime must be epoch"), ((-1, 1), "from 0"),
                        ((0, 10**20), "toTime must be epoch milliseconds from 0"),
                        ((5, 5), "must be after"), ((0, MAX_RANGE_MS + 1), "at most 31 days")]:
        with pytest.raises(QueryError, match=words):
            check_range(*args)


def test_page_and_date_checks() -> None:
    assert check_page(None, None) == (25, 1)
    assert check_page("200", "3") == (200, 3)
    for size, number in (("201", "1"), ("0", "1"), ("5", "0"), ("x", "1"), ("1.5", "1")):
        with pytest.raises(QueryError):
            check_page(size, number)
    assert check_date("2026-03-08") == "2026-03-08"
    for bad in (None, "2026-3-8", "2026-02-30", "20260308", "2026-03-08T00:00"):
        with pytest.raises(QueryError):
            check_date(bad)
    rows = [{"agentId": x} for x in ("b", 10, 9, "a", 100)]
    assert [r["agentId"] for r in sort_by_agent(rows)] == [9, 10, 100, "a", "b"]
    assert page(list(range(7)), 3, 3) == [6]
    assert page(list(range(7)), 3, 4) == []


@given(data=st.data())
def test_timeline_adds_up_to_the_day_summary(data: st.DataObject) -> None:
    """The monitor's timeline of a day (rta.queries.timeline) is the summary's pieces:
    its IN, OUT and NEUTRAL runs add up to the day's seconds, its states cover the day
    without gap or overlap, and its schedule is the counted parts inside the day."""
    events, scheds, tenants = data.draw(scenarios())
    engine = replay_log(data.draw(arrival_orders(events, scheds)), tenants).engine
    assert engine is not None
    checked = 0
    for reducer in engine.agents.values():
        cal = reducer.ctx.calendar
        for ordinal in reducer.candidate_days(None):
            summary = reducer.build_day(ordinal, None)
            if summary is None:
                continue
            ds, de = cal.bounds(ordinal)
            got = timeline(reducer, ds, de, de)
            total = {"IN": 0, "OUT": 0, "NEUTRAL": 0}
            for run in got["adherence"]:
                assert ds <= run["start"] < run["end"] <= de
                total[run["adherence"]] += run["end"] - run["start"]
            assert seconds(total["IN"]) == summary["inAdherenceSeconds"]
            assert seconds(total["OUT"]) == summary["notInAdherenceSeconds"]
            assert seconds(total["NEUTRAL"]) == summary["neutralSeconds"]
            runs = got["states"]
            assert runs[0]["start"] == ds and runs[-1]["end"] == de
            assert all(a["end"] == b["start"] and (a["state"], a["reasonCode"]) != (
                b["state"], b["reasonCode"]) for a, b in itertools.pairwise(runs))
            assert [(p["start"], p["end"], p["activity"]) for p in got["schedule"]] == [
                (max(p.start, ds), min(p.end, de), p.activity_type)
                for p in reducer.schedule.parts if p.start < de and p.end > ds]
            half = ds + (de - ds) // 2  # as of mid-day: nothing after it
            early = timeline(reducer, ds, de, half)
            assert all(r["end"] <= half for r in early["states"] + early["adherence"])
            checked += 1
    event(f"days checked: {min(checked, 3)}")  # (hypothesis statistics: not vacuous)


def test_timeline_of_a_25_hour_day() -> None:
    """The day the clocks go back in America/Chicago has 25 hours: the timeline spans
    them, and an activity in the repeated hour is drawn where it is."""
    from datetime import date

    from rta.agent import AgentReducer, TenantContext
    from rta.config import TenantSettings
    from rta.schedule import Part

    ctx = TenantContext("t", TenantSettings(time_zone="America/Chicago"))
    ds, de = ctx.calendar.bounds(date(2026, 11, 1).toordinal())
    assert de - ds == 25 * 3_600_000
    reducer = AgentReducer(ctx, "7")
    # 01:00-01:30 CDT, then 01:00-01:30 CST an hour later (absolute time)
    first, second = ds + 3_600_000, ds + 2 * 3_600_000
    reducer.apply_schedule("7", "a", ds, de, [
        Part(first, first + 1_800_000, "IN_SERVICE", "IN_SERVICE"),
        Part(second, second + 1_800_000, "BREAK", "BREAK")])
    reducer.add_identity(("1", "a"))
    reducer.apply_state(("1", "a"), first, 3, None, "e1")
    got = timeline(reducer, ds, de, de)
    assert [(p["start"] - ds, p["activity"]) for p in got["schedule"]] == [
        (3_600_000, "IN_SERVICE"), (7_200_000, "BREAK")]
    assert got["states"][-1] == {"start": first, "end": de, "state": "READY",
                                 "reasonCode": None}
    assert [(r["adherence"], r["end"] - r["start"]) for r in got["adherence"]] == [
        ("IN", 1_800_000), ("OUT", 1_800_000)]
