"""The engine: directory, held events and their bounds, identity moves, future events."""

from __future__ import annotations

from typing import Any

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.outputs import Rejected

H = 3_600_000
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z


def ev(acd: str, ts: int, gis: int = 3, eid: str | None = None) -> Any:
    body: dict[str, Any] = {"tenantId": "t", "acdAgentId": acd, "gisStateIdentifier": gis,
                            "timestamp": ts}
    if eid:
        body["eventId"] = eid
    return parse_state_event(body)


def sched(agent: int, acd: str, extra: list[str] | None = None, day: int = 0) -> Any:
    """A one-day schedule ``day`` days after T0."""
    start = T0 + day * 24 * H
    return parse_schedule({
        "tenantId": "t", "agentId": agent, "acdAgentId": acd,
        "acdIdentities": [{"acdAgentId": x} for x in extra or []],
        "fromTimestamp": start, "toTimestamp": start + 24 * H,
        "activities": [{"activityType": "in_service", "startTime": start + 8 * H,
                        "endTime": start + 16 * H}]})


def engine(**settings: Any) -> Engine:
    return Engine(TenantsConfig.from_mapping({"t": settings}))


def test_held_events_are_bounded_by_count_and_the_overflow_is_dead_lettered() -> None:
    e = engine(hold_max_events=3)
    outs = [o for i in range(5) for o in e.apply_state(ev("a", T0 + 8 * H + i * 1000, eid=f"e{i}"))]
    assert [o.payload["eventId"] for o in outs if isinstance(o, Rejected)] == ["e0", "e1"]
    assert all("not in the directory" in o.reason for o in outs if isinstance(o, Rejected))
    assert (e.held_count(), e.counters["rejected_held_overflow"]) == (3, 2)
    e.apply_schedule(sched(7, "a"))
    assert e.held_count() == 0
    [s] = e.summaries()
    assert s["details"][0]["actuals"][1]["actualAgentStateStartTime"] == T0 + 8 * H + 2000


def test_held_events_are_bounded_by_event_time_span() -> None:
    e = engine(hold_max_seconds=3600)
    assert e.apply_state(ev("a", T0 + 10 * H, eid="late-but-newest")) == []
    out = e.apply_state(ev("a", T0 + 12 * H, eid="newer"))
    [rej] = [o for o in out if isinstance(o, Rejected)]
    assert rej.payload["eventId"] == "late-but-newest"


def test_events_ahead_of_the_worker_clock_are_rejected() -> None:
    e = engine(future_tolerance_seconds=300)
    e.apply_schedule(sched(7, "a"))
    now = T0 + 9 * H
    assert not any(isinstance(o, Rejected) for o in e.apply_state(ev("a", now + 300_000), now))
    [rej] = [o for o in e.apply_state(ev("a", now + 300_001), now) if isinstance(o, Rejected)]
    assert "more than 300 s ahead of the worker clock" in rej.reason
    assert e.counters["rejected_future"] == 1


def test_an_identity_moving_to_another_agent_takes_its_events_along() -> None:
    e = engine()
    e.apply_schedule(sched(7, "a", extra=["shared"]))
    e.apply_state(ev("a", T0 + 8 * H, gis=3))
    e.apply_state(ev("a", T0 + 16 * H, gis=1))
    e.apply_state(ev("shared", T0 + 9 * H, gis=4))
    e.apply_state(ev("shared", T0 + 10 * H, gis=1))
    before = {s["agentId"]: s for s in e.summaries()}
    assert before[7]["actualInServiceSeconds"] == 8 * 3600  # READY all day on "a"
    e.apply_schedule(sched(8, "b", extra=["shared"]))  # "shared" now belongs to agent 8
    after = {s["agentId"]: s for s in e.summaries()}
    assert e.directory[("t", "1", "shared")] == "8"
    assert after[8]["actualInServiceSeconds"] == 3600  # TALKING 09:00-10:00
    runs_7 = [a["actualAgentState"] for a in after[7]["details"][0]["actuals"]]
    assert "TALK" not in runs_7
    assert e.counters["identities_moved"] == 1


def test_conflicting_held_events_are_reported_and_the_first_arrival_kept() -> None:
    e = engine()
    e.apply_state(ev("a", T0 + 9 * H, gis=3, eid="x"))  # arrives first
    e.apply_state(ev("a", T0 + 8 * H, gis=2, eid="x"))  # same id, other body, earlier time
    outs = e.apply_schedule(sched(7, "a"))
    [rej] = [o for o in outs if isinstance(o, Rejected)]
    assert "already applied with another body" in rej.reason
    assert rej.payload["timestamp"] == T0 + 8 * H
    [s] = e.summaries()
    assert s["details"][0]["actuals"][1]["actualAgentStateStartTime"] == T0 + 9 * H


def test_a_schedule_change_before_the_floor_asks_for_a_recompute() -> None:
    from rta.agent import AgentReducer, TenantContext
    from rta.config import TenantSettings
    from rta.outputs import RecomputeNeeded
    from rta.schedule import resolve_activities

    ctx = TenantContext("t", TenantSettings(time_zone="UTC"))
    r = AgentReducer(ctx, "7")
    r.add_identity(("1", "a"))
    r.apply_state(("1", "a"), T0 + 8 * H, 3, None, "e1")
    r.prune(at=T0 + 3 * 24 * H)  # days before the 4th are final

    def change(a: int, b: int) -> list[object]:
        parts = resolve_activities(a, b, [("in_service", a + H, b - H)], ctx.rules)
        return [o for o in r.apply_schedule(7, "a", a, b, parts)
                if isinstance(o, RecomputeNeeded)]

    [need] = change(T0 + 24 * H, T0 + 5 * 24 * H)  # days 2..5: 2 and 3 are final
    assert (need.tenant_id, need.agent_key, need.first, need.last) == (
        "t", "7", "2026-03-08", "2026-03-09")
    assert change(T0 + 3 * 24 * H, T0 + 4 * 24 * H) == []  # from the floor on: live


def test_the_latest_window_maps_an_identity_whatever_the_order_of_two_agents_schedules(
) -> None:
    """A chat channel is agent 1's in spring (day 0) and agent 2's from day 200 on.
    The two agents' schedules reach the engine in either order, and agent 1's spring
    schedule is re-sent at the end: the channel is agent 2's for all its events."""
    spring, autumn = sched(1, "a1", ["chat"]), sched(2, "a2", ["chat"], day=200)
    events = [ev("chat", T0 + 9 * H, eid="c1"), ev("chat", T0 + 200 * 24 * H + 9 * H, eid="c2")]
    results = []
    for order in ([spring, autumn, spring], [autumn, spring], [spring, autumn]):
        e = engine()
        for msg in order:
            e.apply_schedule(msg)
        for x in events:
            e.apply_state(x)
        results.append(sorted((s["agentId"], s["date"], s["actualInServiceSeconds"])
                              for s in e.summaries()))
        assert [a for k, a in e.directory.items() if k[2] == "chat"] == ["2"]
    assert results[0] == results[1] == results[2]
    assert any(agent == 2 and secs > 0 and date.startswith("2026-03")
               for agent, date, secs in results[0])
