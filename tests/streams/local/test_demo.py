"""The demo's feeder (``streams.local.demo``): the believable centre sent the way real
sources send, through the worker's HTTP ingest. Against the real HTTP API on an
in-memory backend with a clock the test moves (fast), and `rta up --demo` itself
(slow): the demo agents appear with their team and name, nothing is dead-lettered."""

from __future__ import annotations

import asyncio
import collections
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rta.models import ScheduleMessage, StateEvent, parse_state_event
from streams.api.ports import Unavailable
from streams.local.broker import TansuBroker
from streams.local.centre import Centre, generate_timed
from streams.local.demo import (
    BATCH,
    DEMO_KEY,
    TENANT,
    DemoError,
    Feeder,
    Item,
    demo_tenants_file,
    ingest_items,
)
from tests.support.brokers import TestBroker
from tests.support.fake_backend import Clock, FakeBackend, FakeService, api_config
from tests.support.http import Http, free_port, wait_ready
from tests.support.processes import stop_gently
from tests.support.workers import latest, wait_for

ZONE = ZoneInfo("America/Chicago")
SPEC = Centre(agents=6, days=2, start=date(2026, 3, 7), tenant=TENANT, seed=3,
              late_fraction=0.03, duplicate_fraction=0.03)  # DST starts on the second day
NOW = int(datetime.combine(date(2026, 3, 8), time(12, 0), ZONE).timestamp() * 1000)


class MovedClock(Clock):
    """Only what the test moves it by: epoch ms ``offset_ms``."""

    def __call__(self) -> int:
        return self.offset_ms


class Recording(FakeBackend):
    """Keeps each accepted batch with the API's clock at that moment; answers
    ``/readyz`` with not ready ``unready`` times first."""

    def __init__(self, clock: MovedClock, unready: int = 0) -> None:
        with demo_tenants_file() as path:
            super().__init__(path.read_text())
        self.clock, self.unready, self.health_calls = clock, unready, 0
        self.batches: list[tuple[str, int, int]] = []  # (kind, clock, items)
        self.received: list[tuple[int, StateEvent]] = []  # (clock, event)

    def health(self) -> dict[str, Any]:
        self.health_calls += 1
        if self.unready:
            self.unready -= 1
            return {"ready": False, "checks": {}}
        return super().health()

    async def publish_states(self, events: list[StateEvent]) -> None:
        await super().publish_states(events)
        now = self.clock()
        self.batches.append(("state", now, len(events)))
        self.received += [(now, ev) for ev in events]

    async def publish_schedules(self, messages: list[tuple[ScheduleMessage, dict[str, Any]]]
                                ) -> None:
        await super().publish_schedules(messages)
        self.batches.append(("schedule", self.clock(), len(messages)))


@pytest.fixture
def served() -> Iterator[tuple[FakeService, Recording, MovedClock]]:
    clock = MovedClock(NOW)
    backend = Recording(clock, unready=3)
    service = FakeService(backend, api_config({}), clock).start()
    try:
        yield service, backend, clock
    finally:
        service.stop()


def feeder(service: FakeService, clock: MovedClock, items: list[Item], stop: threading.Event,
           said: list[str], key: str = DEMO_KEY, stop_after_sleeps: int | None = None
           ) -> Feeder:
    sleeps = 0

    async def sleep(seconds: float) -> None:  # time passes only when the feeder waits
        nonlocal sleeps
        sleeps += 1
        clock.advance(seconds)
        if stop_after_sleeps is not None and sleeps >= stop_after_sleeps:
            stop.set()
        await asyncio.sleep(0)

    return Feeder(service.url, key, items, stop, clock=clock, sleep=sleep,
                  announce=said.append)


async def test_the_backlog_goes_at_once_in_batches_and_the_rest_as_the_clock_reaches_it(
        served: tuple[FakeService, Recording, MovedClock]) -> None:
    service, backend, clock = served
    items = ingest_items(SPEC)
    said: list[str] = []
    sent = await feeder(service, clock, items, threading.Event(), said).run()
    assert sent == len(items)
    assert backend.health_calls == 4 and "waiting for the worker" in said[0]
    assert "sent the" in said[1] and "through the HTTP ingest" in said[1]
    # everything arrived once, each identity's events and each agent's schedules in
    # the order of the log
    timed = generate_timed(SPEC)
    assert sum(n for _, _, n in backend.batches) == len(items) == len(timed)
    by_identity: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for _, rec in timed:
        if rec["kind"] == "state":
            ev = parse_state_event(rec["body"])
            by_identity[ev.identity].append(ev.to_json())
    got: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for _, ev in backend.received:
        got[ev.identity].append(ev.to_json())
    assert got == by_identity
    assert {ev.acd_server_id for _, ev in backend.received} == {"1", "2"}
    schedules = [raw for _, raw in backend.schedules]
    assert schedules == [rec["body"] for _, rec in timed if rec["kind"] == "schedule"]
    # the backlog (what arrived before the worker was ready), at once, in full
    # batches of at most BATCH, schedules first
    start = backend.batches[0][1]
    assert start == NOW + 1500  # three times not ready, half a second apart
    backlog = [b for b in backend.batches if b[1] == start]
    assert max(n for _, _, n in backend.batches) == BATCH
    assert sum(n for _, _, n in backlog) == sum(1 for a, *_ in items if a <= start)
    assert [k for k, _, _ in backlog].count("schedule") == 1
    assert backlog[0][0] == "schedule"
    # then each event once the clock reaches its arrival, not before, and at once
    arrivals: dict[str, list[int]] = collections.defaultdict(list)
    for arrival, rec in timed:
        if rec["kind"] == "state":
            arrivals[rec["body"]["eventId"]].append(arrival)
    for at, ev in backend.received:
        assert ev.event_id is not None
        arrival = arrivals[ev.event_id].pop(0)
        assert ev.timestamp <= arrival <= at
        if arrival > start:
            assert at <= arrival + 1000
    assert any(at > start for at, _ in backend.received)


async def test_a_503_is_tried_again_and_nothing_is_lost_or_sent_twice(
        served: tuple[FakeService, Recording, MovedClock]) -> None:
    service, backend, clock = served
    items = [(a, *rest) for a, *rest in ingest_items(SPEC) if a <= NOW]  # the backlog
    backend.fail_next(Unavailable("rebalancing"))  # the first batch: 503 (Retry-After: 1)
    sent = await feeder(service, clock, items, threading.Event(), []).run()
    assert sent == len(items) == sum(n for _, _, n in backend.batches)
    assert backend.batches[0][1] == NOW + 1500 + 1000  # after the Retry-After
    assert len(backend.received) == sum(1 for _, kind, *_ in items if kind == "state")


async def test_a_key_the_engine_refuses_stops_the_demo_saying_why(
        served: tuple[FakeService, Recording, MovedClock]) -> None:
    service, _, clock = served
    with pytest.raises(DemoError, match="RTA_DEMO_API_KEY"):
        await feeder(service, clock, ingest_items(SPEC), threading.Event(), [],
                     key="not-the-demo-key").run()


@pytest.mark.parametrize("after", [2, 20, 2000])
async def test_stop_ends_the_feeder_wherever_it_is(
        served: tuple[FakeService, Recording, MovedClock], after: int) -> None:
    """Waiting for /readyz (2 sleeps), early in the live part, or later: `rta up`'s
    Ctrl-C sets the event, and the feeder returns at its next wait."""
    service, backend, clock = served
    items = ingest_items(SPEC)
    stop = threading.Event()
    sent = await feeder(service, clock, items, stop, [], stop_after_sleeps=after).run()
    assert stop.is_set()
    assert sent == sum(n for _, _, n in backend.batches) < len(items)
    if after == 2:
        assert sent == 0
    else:
        assert sent >= sum(1 for a, *_ in items if a <= NOW)


# ---------------------------------------------------------------------- rta up --demo
@pytest.mark.slow  # starts rta up: a broker and a worker
def test_rta_up_demo_feeds_named_agents_in_teams_through_the_http_ingest(
        tmp_path: Path) -> None:
    agents, port = 30, free_port()
    out = tmp_path / "up.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "up", "--demo", "--demo-agents",
         str(agents), "--no-history", "--web-port", str(port), "--data-dir",
         str(tmp_path / "var")],
        stdout=open(out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: SIM115
        cwd=Path(__file__).resolve().parents[3])
    try:
        wait_for(lambda: "rta is up." in out.read_text(), timeout=60, every=0.3)
        broker_port = re.search(r"kafka://127\.0\.0\.1:(\d+)", out.read_text())
        assert broker_port is not None
        api = Http(f"http://127.0.0.1:{port}")
        wait_ready(api)
        # (seconds here; the timeouts allow for a busy machine and a slow catch-up)
        sent = wait_for(lambda: re.search(r"demo: sent the ([\d,]+) records", out.read_text()),
                        timeout=180, every=0.5)
        assert int(sent.group(1).replace(",", "")) > 100 * agents  # yesterday and today
        key = {"x-api-key": DEMO_KEY}

        def statuses() -> list[dict[str, Any]] | None:
            got = [api.call("GET", f"/v1/agents/{1000 + n}/status", headers=key)
                   for n in range(agents)]
            return [r.json for r in got] if all(r.status == 200 for r in got) else None

        seen = wait_for(statuses, timeout=300, every=2)
        assert all(s["tenantId"] == TENANT and s["agentName"] and s["team"] for s in seen)
        assert len({s["agentName"] for s in seen}) == agents
        teams = collections.Counter(s["team"] for s in seen)
        assert len(teams) >= 5 and min(teams.values()) >= 2
        chat = [s for s in seen if s["team"] == "Chat Care"]
        assert all(s["acdAgentId"].startswith("chat-") for s in chat)
        # the HTTP ingest took them (no direct produce), and refused nothing
        metrics = api.call("GET", "/metrics").body.decode()
        ingested = re.search(r'rta_http_ingested_total\{kind="state"\} ([\d.e+]+)', metrics)
        assert ingested is not None and float(ingested.group(1)) > 100 * agents
        assert not re.search(r'rta_http_rejected_batches_total\{[^}]*\} [1-9]', metrics)
        broker = TestBroker(TansuBroker(port=int(broker_port.group(1))), "rta")
        assert latest(broker, "rta.deadletter") == {}
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the demo thread stops with the worker
        assert proc.wait(30) == 0, out.read_text()[-3000:]
    finally:
        stop_gently(proc)
