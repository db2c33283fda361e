"""Alerts and live status: hand-computed timelines, driven by explicit ``now``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.outputs import AlertOut, StatusOut

DAY = datetime(2026, 3, 6, tzinfo=UTC)
S = 1000
M = 60 * S


def t(h: int, m: int = 0, s: int = 0) -> int:
    return int(DAY.timestamp() * 1000) + ((h * 60 + m) * 60 + s) * S


def engine(**settings: Any) -> Engine:
    e = Engine(TenantsConfig.from_mapping({"t": settings}))
    e.apply_schedule(parse_schedule({
        "tenantId": "t", "agentId": 7, "acdAgentId": "a",
        "fromTimestamp": t(0), "toTimestamp": t(24),
        "activities": [{"activityType": "in_service", "startTime": t(9), "endTime": t(17)},
                       {"activityType": "break", "startTime": t(12), "endTime": t(12, 15)}]}))
    return e


AT = -1  # evaluate at the event's own timestamp


def state(e: Engine, at: int, gis: int, now: int | None = AT, reason: Any = None) -> list:
    """Apply a state event; evaluate alerts at ``now`` (None: do not evaluate)."""
    return e.apply_state(parse_state_event(
        {"tenantId": "t", "acdAgentId": "a", "gisStateIdentifier": gis, "timestamp": at,
         "reasonCode": reason}), now=at if now == AT else now)


def alerts(outs: list) -> list[tuple[str, int, int | None]]:
    return [(o.alert["type"], o.alert["start"], o.alert["end"])
            for o in outs if isinstance(o, AlertOut)]


def test_alert_fires_at_threshold_with_no_further_input_and_ends_with_the_run() -> None:
    e = engine()
    assert alerts(state(e, t(9), 3)) == []
    assert alerts(state(e, t(10), 2)) == []  # NOT_READY in service: OUT from 10:00
    assert alerts(e.tick(t(10, 0, 59) + 999)) == []
    [started] = [o for o in e.tick(t(10, 1)) if isinstance(o, AlertOut)]
    assert started.alert == {
        "type": "ALERT_STARTED", "alertId": f"t:7:{t(10)}", "tenantId": "t", "agentId": 7,
        "start": t(10), "at": t(10, 1), "end": None, "duration": None, "thresholdSeconds": 60,
        "activity": "in_service", "category": "IN_SERVICE", "state": "NOT_READY",
        "gisStateIdentifier": 2, "reasonCode": None}
    assert started.key == "t:7"
    assert alerts(e.tick(t(10, 5))) == []  # no repeat
    [ended] = [o.alert for o in state(e, t(10, 7), 3) if isinstance(o, AlertOut)]
    assert (ended["type"], ended["alertId"], ended["start"], ended["end"], ended["duration"]) \
        == ("ALERT_ENDED", f"t:7:{t(10)}", t(10), t(10, 7), 7 * M)


def test_shorter_runs_raise_nothing_and_exactly_threshold_does() -> None:
    e = engine()
    state(e, t(9), 3)
    state(e, t(10), 2)
    assert alerts(state(e, t(10, 0, 59), 3)) == []
    state(e, t(11), 1)
    assert alerts(state(e, t(11, 1), 3)) == [("ALERT_STARTED", t(11), None),
                                               ("ALERT_ENDED", t(11), t(11, 1))]


def test_catch_up_emits_started_and_ended_for_runs_passed_between_evaluations() -> None:
    e = engine()
    state(e, t(9), 3, now=t(9))
    state(e, t(10), 2, now=None)
    state(e, t(10, 5), 3, now=None)
    state(e, t(10, 6), 1, now=None)  # a 30 s run below, then READY
    state(e, t(10, 6, 30), 3, now=None)
    assert alerts(e.tick(t(11))) == [("ALERT_STARTED", t(10), None),
                                     ("ALERT_ENDED", t(10), t(10, 5))]


def test_activity_change_ends_a_run_and_starts_one_without_any_event() -> None:
    e = engine()
    state(e, t(9), 3)
    agent = e.agents[("t", "7")]
    assert agent.next_deadline(t(11)) == t(12)  # the break starts: READY becomes OUT
    assert alerts(e.tick(t(12))) == []
    assert agent.next_deadline(t(12)) == t(12, 1)
    assert alerts(e.tick(t(12, 1))) == [("ALERT_STARTED", t(12), None)]
    # back in service at 12:15 while READY: IN, the run ends with no event
    assert alerts(e.tick(t(12, 15))) == [("ALERT_ENDED", t(12), t(12, 15))]


def test_run_unbroken_by_state_change_and_by_midnight() -> None:
    e = Engine(TenantsConfig.from_mapping({"t": {}}))
    e.apply_schedule(parse_schedule({
        "tenantId": "t", "agentId": 7, "acdAgentId": "a",
        "fromTimestamp": t(0), "toTimestamp": t(48),
        "activities": [{"activityType": "in_service", "startTime": t(22), "endTime": t(30)}]}))
    state(e, t(22), 3)
    state(e, t(23, 59, 30), 2)  # NOT_READY: OUT
    assert alerts(state(e, t(24, 0, 10), 1)) == []  # LOGOUT after midnight: same run
    assert alerts(e.tick(t(24, 0, 29))) == []
    assert alerts(e.tick(t(24, 0, 30))) == [("ALERT_STARTED", t(23, 59, 30), None)]
    assert alerts(state(e, t(24, 10), 3)) == [("ALERT_ENDED", t(23, 59, 30), t(24, 10))]


def test_threshold_by_category_at_the_run_start() -> None:
    e = engine(alert_after_seconds_by_category={"BREAK": 300})
    state(e, t(9), 3)
    assert alerts(e.tick(t(12, 4))) == []  # READY on break: OUT since 12:00, 5 min allowed
    assert alerts(e.tick(t(12, 5))) == [("ALERT_STARTED", t(12), None)]


def test_switch_tolerance_delays_the_run_start() -> None:
    e = engine(switch_tolerance_seconds=30)
    state(e, t(9), 3)
    e.tick(t(12))
    assert alerts(e.tick(t(12, 1))) == []  # OUT only from 12:00:30
    assert alerts(e.tick(t(12, 1, 30))) == [("ALERT_STARTED", t(12, 0, 30), None)]


def test_run_start_is_event_time_even_when_a_tick_passed_it_first() -> None:
    e = engine()
    state(e, t(9), 3)
    e.tick(t(10, 0, 2))  # the worker clock passes 10:00:02 before the event arrives
    outs = state(e, t(10), 2, now=t(10, 0, 3))  # NOT_READY at 10:00:00, arrives late
    assert alerts(outs) == []
    [started] = [o.alert for o in e.tick(t(10, 1)) if isinstance(o, AlertOut)]
    assert started["alertId"] == f"t:7:{t(10)}"


def test_alert_ids_do_not_depend_on_tick_times() -> None:
    """A replay with other tick times (e.g. after a crash) yields the same ids."""
    def run(ticks: list[int]) -> list[str]:
        e = engine()
        ids: list[str] = []
        inputs = [(t(9), 3), (t(10), 2), (t(10, 3), 1), (t(10, 9), 3), (t(13), 2), (t(13, 2), 3)]
        events = sorted([(at, "ev", gis) for at, gis in inputs] + [(x, "tick", 0) for x in ticks])
        for at, kind, gis in events:
            outs = state(e, at, gis) if kind == "ev" else e.tick(at)
            ids += [o.alert["alertId"] for o in outs if isinstance(o, AlertOut)
                    and o.alert["type"] == "ALERT_STARTED"]
        ids += [o.alert["alertId"] for o in e.tick(t(18)) if isinstance(o, AlertOut)
                and o.alert["type"] == "ALERT_STARTED"]
        return ids

    # 10:00 NOT_READY, LOGOUT; 12:00 READY on break; 13:00 NOT_READY
    expected = [f"t:7:{t(10)}", f"t:7:{t(12)}", f"t:7:{t(13)}"]
    assert run([]) == expected
    assert run([t(10, 1), t(10, 2), t(13, 1)]) == expected
    assert run([t(x, y) for x in range(9, 14) for y in range(0, 60, 7)]) == expected


def test_late_event_does_not_retract_a_sent_alert() -> None:
    e = engine()
    state(e, t(9), 3)
    state(e, t(10), 2)
    assert alerts(e.tick(t(10, 2))) == [("ALERT_STARTED", t(10), None)]
    # a late READY at 10:00:30 shows the run was 30 s: the alert is not retracted, it ends
    outs = state(e, t(10, 0, 30), 3, now=t(10, 3))
    assert alerts(outs) == [("ALERT_ENDED", t(10), t(10, 0, 30))]
    assert alerts(e.tick(t(10, 10))) == []


def test_live_status_is_emitted_when_it_changes() -> None:
    e = engine()
    outs = state(e, t(9), 3)
    [st] = [o.status for o in outs if isinstance(o, StatusOut)]
    assert (st["state"], st["agentState"], st["since"], st["activity"], st["adherence"],
            st["outOfAdherenceSince"], st["loggedIn"]) == \
        ("READY", "READY_WAITING", t(9), "in_service", "IN", None, True)
    assert [o for o in e.tick(t(9, 30)) if isinstance(o, StatusOut)] == []  # unchanged
    [st] = [o.status for o in e.tick(t(12)) if isinstance(o, StatusOut)]
    assert (st["activity"], st["activityCategory"], st["adherence"],
            st["outOfAdherenceSince"]) == ("break", "BREAK", "OUT", t(12))
    [st] = [o.status for o in state(e, t(17, 30), 1) if isinstance(o, StatusOut)]
    assert (st["state"], st["activity"], st["adherence"], st["loggedIn"]) == \
        ("LOGOUT", None, "UNSCHEDULED", False)
