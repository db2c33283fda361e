"""The alert timer's queue of deadlines (streams/worker/timers.py), on a worker's
runtime without a broker."""

from __future__ import annotations

import heapq
from types import SimpleNamespace

import pytest

from rta.agent import AgentReducer
from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.worker import timers
from streams.worker.runtime import Runtime

NOW = 1_796_657_875_000


async def test_a_deadline_long_past_waits_a_second_of_the_clock_behind_a_backlog(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent last evaluated in event time (a backlog: yesterday) is due at once;
    while its partition still has a backlog it is asked again a second later by the
    clock. Re-queued a second after its own deadline instead, it came back in the
    same turn 50,000 times (found by the demo: the worker spent three quarters of
    its time there)."""
    rt = Runtime(WorkerSettings(), TenantsConfig())
    for n in range(3):
        akey = f"t:{n}"
        rt.reducers[akey] = AgentReducer(rt.context("t"), str(n))
        rt.due[akey] = when = NOW - 14 * 3_600_000 + n
        heapq.heappush(rt.deadlines, (when, akey))
    asked: list[int] = []

    def caught_up(partition: int) -> bool:
        asked.append(partition)
        return False

    monkeypatch.setattr(rt, "caught_up", caught_up)
    monkeypatch.setattr(timers, "now_ms", lambda: NOW)
    await timers.alerts(SimpleNamespace(rt=rt, settings=rt.settings))  # type: ignore[arg-type]
    assert len(asked) == 3  # once each
    assert sorted(rt.deadlines) == [(NOW + 1000, f"t:{n}") for n in range(3)]
    assert rt.due == {f"t:{n}": NOW + 1000 for n in range(3)}


def test_an_agent_with_input_of_today_is_summarised_as_of_the_clock_behind_a_backlog(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A partition taking live input is often a few records behind when the summaries
    are built. An agent whose latest instant is today is built as of the worker clock
    all the same (as of the end of time, a logged-in agent's today ran to midnight:
    more in-service time than the day had had); one whose latest instant is of an
    earlier day, as of the end of time, as a backlog is."""
    from rta.calendar import DayCalendar
    from rta.schedule import Part

    rt = Runtime(WorkerSettings(), TenantsConfig())
    cal = DayCalendar("UTC")
    _, day, _ = cal.day(NOW)
    today = AgentReducer(rt.context("t"), "1")
    today.apply_schedule("1", "a", day, day + 86_400_000, [
        Part(day + 8 * 3_600_000, day + 17 * 3_600_000, "IN_SERVICE", "IN_SERVICE")])
    today.add_identity(("1", "a"))
    today.apply_state(("1", "a"), day + 9 * 3_600_000, 3, None, "e1")
    now = day + 10 * 3_600_000
    earlier = AgentReducer(rt.context("t"), "2")
    earlier.add_identity(("1", "b"))
    earlier.apply_state(("1", "b"), day - 3_600_000, 3, None, "e2")
    behind = {"value": False}
    monkeypatch.setattr(rt, "caught_up", lambda partition: behind["value"])
    assert rt.live_for("t:1", today, now)
    assert not rt.live_for("t:2", earlier, now)
    assert not rt.live_for("t:1", today, day - 1)  # its latest instant after the clock
    behind["value"] = True
    assert rt.live_for("t:2", earlier, now)
    # what it changes: today's in-service time so far, not to midnight
    o = cal.ordinal(now)
    assert today.build_day(o, now)["actualInServiceSeconds"] == 3_600
    assert today.build_day(o, None)["actualInServiceSeconds"] > (now - day) // 1000
