"""The emit timer's order of writes (no broker: a recording stand-in for the Worker)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rta.agent import AgentReducer
from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.worker import timers
from streams.worker.runtime import Runtime

H = 3_600_000
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z (tenant zone UTC)
READY, LOGOUT = 3, 1


class Crash(Exception):
    pass


class Recorder:
    """What emit_summaries touches of the Worker: snapshots and sends, recorded."""

    adherence_out = "rta.adherence"
    agents = "agents"

    def __init__(self) -> None:
        self.rt = Runtime(WorkerSettings(partitions=1), TenantsConfig())
        self.settings = self.rt.settings
        self.saved: list[list[int]] = []  # each snapshot's emitted days
        self.crash_on_tombstone = False

    @staticmethod
    def done() -> Any:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def put(self, table: Any, key: str, snap: dict[str, Any], part: int) -> Any:
        self.saved.append(sorted(snap["emitted"]))
        return self.done()

    async def send(self, topic: Any, key: bytes, value: Any) -> Any:
        if value is None and self.crash_on_tombstone:
            raise Crash("the process dies before the tombstone is on the broker")
        return self.done()

    async def delivered(self, futures: list[Any]) -> None:
        for f in futures:
            await f


def test_a_deleted_day_stays_in_the_snapshot_until_its_tombstone_is_delivered() -> None:
    """A late logout empties a day already published: the snapshot saved before the
    tombstone is sent must still list the day, so that a worker restored from it
    after a crash sends the tombstone (saved without it, the day stayed published
    for good: the randomized test, seed 137)."""
    w = Recorder()
    rt = w.rt
    reducer = AgentReducer(rt.context("northwind"), "7")
    akey = "northwind:7"
    rt.reducers[akey] = reducer
    reducer.add_identity(("1", "a"))
    reducer.apply_state(("1", "a"), T0 + 1 * H, READY, None, "e1")
    reducer.apply_state(("1", "a"), T0 + 30 * H, LOGOUT, None, "e3")
    rt.pending.add(akey)
    asyncio.run(timers.emit_summaries(w))  # type: ignore[arg-type]
    first, second = sorted(reducer.emitted)
    assert w.saved[-1] == [first, second]

    reducer.apply_state(("1", "a"), T0 + 2 * H, LOGOUT, None, "e2")  # late: day 2 empties
    rt.pending.add(akey)
    w.crash_on_tombstone = True
    with pytest.raises(Crash):
        asyncio.run(timers.emit_summaries(w))  # type: ignore[arg-type]
    assert w.saved[-1] == [first, second]  # what a restored reducer will tombstone

    # restarted: restored from that snapshot, the day is rebuilt, its tombstone
    # delivered, and only then does the day leave the snapshot
    w.crash_on_tombstone = False
    reducer.emitted.add(second)
    reducer.changed.add(second)
    rt.pending.add(akey)
    asyncio.run(timers.emit_summaries(w))  # type: ignore[arg-type]
    assert w.saved[-1] == [first]
