"""``FreezeWatch``: a worker that stood still longer than the session timeout writes
nothing more (its partitions may be another worker's by then). End to end:
tests/streams/worker/test_randomized.py freezes workers with SIGSTOP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from streams.worker import runtime as app


def test_a_process_that_stood_still_stops_before_it_writes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[str] = []

    def stop(step: str, exc: BaseException) -> Any:
        stopped.append(str(exc))
        raise SystemExit(70)

    monkeypatch.setattr(app, "stop_unacked", stop)
    watch = app.FreezeWatch(limit=0.5)
    time.sleep(0.3)
    watch.check()  # beating: nothing happens
    assert stopped == []
    watch.beat -= 2.0  # as if the whole process (the beating thread too) was stopped
    with pytest.raises(SystemExit):
        watch.check()
    assert "stood still" in stopped[0]
    time.sleep(0.3)  # the thread has beaten since, but it noticed the gap: latched
    with pytest.raises(SystemExit):
        watch.check()
