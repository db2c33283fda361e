"""Dead letters by cause (``rta_deadletter_total{reason=}``): the core says why it
rejects (``Rejected.cause``), the worker's routers classify what they refuse, and the
worker counts each dead letter under one of the fixed causes (no broker)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.outputs import CAUSES, Rejected
from streams.settings import WorkerSettings
from streams.worker import routing
from streams.worker.context import Worker
from streams.worker.runtime import Runtime, now_ms

DAY = 86_400_000
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z
TENANTS = TenantsConfig.from_toml('[tenants.t]\ntime_zone = "UTC"\nhold_max_events = 2\n')


def state(ts: int, eid: str, acd: str = "a1", gis: int = 3) -> dict[str, Any]:
    return {"tenantId": "t", "acdServerId": "1", "acdAgentId": acd,
            "gisStateIdentifier": gis, "timestamp": ts, "eventId": eid}


def schedule() -> dict[str, Any]:
    return {"tenantId": "t", "agentId": 7, "acdAgentId": "a1", "acdServerId": "1",
            "fromTimestamp": T0 - 20 * DAY, "toTimestamp": T0 + DAY, "activities": []}


def causes(outs: list[Any]) -> list[str]:
    return [o.cause for o in outs if isinstance(o, Rejected)]


def test_the_core_says_why() -> None:
    e = Engine(TENANTS)
    # an event too far ahead of the clock
    assert causes(e.apply_state(parse_state_event(state(T0 + 3_600_000, "f")), now=T0)) \
        == ["future"]
    # an unknown identity's hold over its bound (2 events): the oldest falls out
    for i in range(2):
        assert e.apply_state(parse_state_event(state(T0 + i, f"h{i}", acd="x"))) == []
    assert causes(e.apply_state(parse_state_event(state(T0 + 5, "h5", acd="x")))) \
        == ["hold_overflow"]
    # a known identity: beyond the lateness horizon (a week), and an eventId reused
    e.apply_schedule(parse_schedule(schedule()))
    assert e.apply_state(parse_state_event(state(T0, "e1"))) == []
    assert causes(e.apply_state(parse_state_event(state(T0 - 8 * DAY, "e0")))) == ["horizon"]
    assert causes(e.apply_state(parse_state_event(state(T0 + 60_000, "e1", gis=4)))) \
        == ["conflict"]
    assert set(CAUSES) == {"malformed", "future", "horizon", "hold_overflow", "conflict",
                           "other"}


class Topic:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class StubWorker(Worker):
    """The worker's own dead-letter code (``to_deadletter``, ``reject``, ``send``)
    over a runtime, with the broker replaced by a list."""

    def __init__(self) -> None:  # (no faust app)
        self.settings = WorkerSettings()
        self.tenants = TENANTS
        self.rt = Runtime(self.settings, TENANTS)
        self.deadletter_out = Topic("rta.deadletter")
        self.state_in = Topic("rta.agent-state")
        self.directory_topic = Topic("rta-directory")
        self.agent_input = Topic("rta-agent-input")
        self.directory = SimpleNamespace(get=lambda key: None)
        self.app = SimpleNamespace(consumer=SimpleNamespace(_committed_offset={}))
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, topic: Any, **kw: Any) -> Any:
        await super().send(SimpleNamespace(get_topic_name=topic.get_topic_name,
                                           send=self._record(topic)), **kw)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def _record(self, topic: Any) -> Any:
        async def send(**kw: Any) -> None:
            value = kw.get("value")
            self.sent.append((topic.get_topic_name(),
                              orjson.loads(value) if value is not None else {}))
        return send

    def generation(self) -> int:
        return 0

    def stale(self, event: Any, gen: int) -> bool:
        return False

    async def send_marks(self, progress: dict[Any, str], force: bool) -> None:
        return None


def event(value: bytes, offset: int) -> Any:
    return SimpleNamespace(value=value, message=SimpleNamespace(
        topic="rta.agent-state", partition=0, offset=offset, key=b"t:1:a1", value=value))


def test_the_router_classifies_what_it_refuses_and_the_worker_counts_by_cause() -> None:
    w = StubWorker()
    now = now_ms()
    events = [event(b"not json", 0),
              event(orjson.dumps({**state(now, "m"), "gisStateIdentifier": "x"}), 1),
              event(orjson.dumps(state(now + 3_600_000, "f")), 2),
              event(orjson.dumps(state(now, "ok")), 3)]
    asyncio.run(routing.route_states(w, events))
    letters = [v for topic, v in w.sent if topic == "rta.deadletter"]
    assert [v["offset"] for v in letters] == [0, 1, 2]
    assert w.rt.deadletters == {"malformed": 2, "future": 1, "horizon": 0,
                                "hold_overflow": 0, "conflict": 0, "other": 0}
    assert w.rt.counters["deadletter"] == 3
    # counted per topic on the way out, and the event that passed held for its identity
    assert w.rt.records_out == {"rta.deadletter": 3, "rta-directory": 1}


def test_a_core_rejection_keeps_its_cause_through_the_worker() -> None:
    w = StubWorker()
    asyncio.run(w.reject(None, Rejected("older than the lateness horizon",
                                        state(T0, "e"), cause="horizon"), "rta.agent-state"))
    asyncio.run(w.reject(None, Rejected("?", {}), "rta.schedule"))
    assert w.rt.deadletters["horizon"] == 1 and w.rt.deadletters["other"] == 1
    assert sum(w.rt.deadletters.values()) == w.rt.counters["deadletter"] == 2
