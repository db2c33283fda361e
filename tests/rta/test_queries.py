"""Real-Time Agent States from a reducer, and the query parameter checks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rta.queries import (
    MAX_RANGE_MS,
    QueryError,
    activity_detail,
    check_date,
    check_page,
    check_range,
    page,
    sort_by_agent,
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
