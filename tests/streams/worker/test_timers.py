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
