"""Alerts and live status: hand-computed timelines driven by explicit ``now``, and
properties holding the reducer to the brute-force oracle (``reference_alerts``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from rta.agent import AgentReducer
from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.outputs import AlertOut, StatusOut
from tests.support.oracle import reference_alerts
from tests.support.strategies import (
    ALERT_BASE,
    ALERT_SPAN_STEPS,
    ALERT_STEP,
    alert_scenarios,
    alert_steps,
)

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


# -- the rules of ADHERENCE.md section 6 with late input (SEMANTICS.md, "Alerts") ----------

def short_shift(until: int) -> Engine:
    """In service 09:00 to ``until``, nothing scheduled after."""
    e = Engine(TenantsConfig.from_mapping({"t": {}}))
    schedule(e, t(0), t(24), [("in_service", t(9), until)])
    return e


def schedule(e: Engine, frm: int, to: int, acts: list[tuple[str, int, int]],
             now: int | None = None) -> list:
    return e.apply_schedule(parse_schedule({
        "tenantId": "t", "agentId": 7, "acdAgentId": "a", "fromTimestamp": frm,
        "toTimestamp": to, "activities": [{"activityType": a, "startTime": s, "endTime": x}
                                          for a, s, x in acts]}), now=now)


def test_late_schedule_extending_an_ended_run_raises_one_alert_from_the_covered_end() -> None:
    """The project's issue: the OUT time after an ended alert is a run of its own."""
    e = short_shift(t(10, 7))
    state(e, t(9), 3)
    state(e, t(10), 2)  # NOT_READY during in service: OUT from 10:00
    assert alerts(e.tick(t(10, 1))) == [("ALERT_STARTED", t(10), None)]
    assert alerts(e.tick(t(10, 7))) == [("ALERT_ENDED", t(10), t(10, 7))]  # OFF from 10:07
    assert alerts(e.tick(t(10, 10))) == []
    agent = e.agents[("t", "7")]
    # 10:20: a late schedule message keeps the agent in service until 12:00
    outs = schedule(e, t(9), t(12), [("in_service", t(9), t(12))], now=t(10, 20))
    [started] = [o.alert for o in outs if isinstance(o, AlertOut)]
    assert (started["type"], started["alertId"], started["start"], started["at"],
            started["category"], started["state"]) == \
        ("ALERT_STARTED", f"t:7:{t(10, 7)}", t(10, 7), t(10, 8), "IN_SERVICE", "NOT_READY")
    assert agent.alerts.open_start == t(10, 7)
    assert alerts(e.tick(t(10, 30))) == []
    [ended] = [o.alert for o in state(e, t(10, 40), 3) if isinstance(o, AlertOut)]
    assert (ended["type"], ended["alertId"], ended["end"], ended["duration"]) == \
        ("ALERT_ENDED", f"t:7:{t(10, 7)}", t(10, 40), 33 * M)
    assert alerts(e.tick(t(12))) == []


def test_late_schedule_reviving_a_run_that_is_still_below_its_threshold() -> None:
    """The run from the covered end starts alerting only once it lasted the threshold;
    a timer is told when (``next_deadline``), by the category where it starts."""
    e = Engine(TenantsConfig.from_mapping({"t": {"alert_after_seconds_by_category":
                                                 {"BREAK": 300}}}))
    schedule(e, t(0), t(24), [("in_service", t(9), t(10, 7))])
    state(e, t(9), 1)  # logged out: OUT from 09:00
    assert alerts(e.tick(t(10, 7))) == [("ALERT_STARTED", t(9), None),
                                        ("ALERT_ENDED", t(9), t(10, 7))]
    agent = e.agents[("t", "7")]
    # at 10:07:30 the WFM adds a lunch from 10:07 (LOGOUT on a break is IN) and then
    # in service from 10:07:10: OUT again from 10:07:10, inside nothing covered
    schedule(e, t(10), t(11), [("lunch", t(10, 7), t(10, 7, 10)),
                               ("in_service", t(10, 7, 10), t(11))], now=t(10, 7, 30))
    assert agent.alerts.pending == t(10, 7, 10)
    assert agent.next_deadline(t(10, 7, 30)) == t(10, 8, 10)
    # the same again, but the lunch is gone: OUT since 10:00 as now known, the run
    # after the covered end (10:07) is what counts, by the category at 10:07
    schedule(e, t(10), t(11), [("in_service", t(10), t(11))], now=t(10, 7, 40))
    assert agent.alerts.pending == t(10, 7)
    assert agent.next_deadline(t(10, 7, 40)) == t(10, 8)
    assert alerts(e.tick(t(10, 7, 59))) == []
    assert alerts(e.tick(t(10, 8))) == [("ALERT_STARTED", t(10, 7), None)]


def test_late_event_revealing_out_time_before_an_alert_is_a_run_of_its_own() -> None:
    e = engine()
    state(e, t(9), 3)
    state(e, t(10), 2)
    assert alerts(e.tick(t(10, 5))) == [("ALERT_STARTED", t(10), None)]
    # late: NOT_READY already from 09:58 (2 min, alerts by itself) ...
    outs = state(e, t(9, 58), 2, now=t(10, 6))
    assert alerts(outs) == [("ALERT_STARTED", t(9, 58), None),
                            ("ALERT_ENDED", t(9, 58), t(10))]
    # ... and LOGOUT from 09:57:30 (30 s more: below the threshold by itself)
    assert alerts(state(e, t(9, 57, 30), 1, now=t(10, 7))) == []
    assert alerts(state(e, t(10, 8), 3)) == [("ALERT_ENDED", t(10), t(10, 8))]


def test_open_alert_cut_short_ends_where_its_run_now_ends_and_later_out_time_is_new() -> None:
    e = engine()
    state(e, t(9), 3)
    state(e, t(10), 2)
    assert alerts(e.tick(t(10, 5))) == [("ALERT_STARTED", t(10), None)]
    # late: READY 10:00:20-10:01, NOT_READY again from 10:01
    state(e, t(10, 1), 2, now=None)
    outs = state(e, t(10, 0, 20), 3, now=t(10, 6))
    assert alerts(outs) == [("ALERT_ENDED", t(10), t(10, 0, 20)),  # below 60 s: still ended
                            ("ALERT_STARTED", t(10, 1), None)]


def test_an_alert_ended_at_its_own_start_keeps_its_id_for_itself() -> None:
    """A late event at the very start of an open alert ends it with duration 0; if
    the run comes back from that instant, its alert starts 1 ms later (an alert id is
    never started twice)."""
    e = engine()
    state(e, t(9), 3)
    e.apply_state(parse_state_event({"tenantId": "t", "acdAgentId": "a", "timestamp": t(10),
                                     "gisStateIdentifier": 2, "eventId": "x1"}), now=t(10))
    assert alerts(e.tick(t(10, 5))) == [("ALERT_STARTED", t(10), None)]
    # same instant, greater eventId: READY from 10:00
    outs = e.apply_state(parse_state_event({
        "tenantId": "t", "acdAgentId": "a", "timestamp": t(10), "gisStateIdentifier": 3,
        "eventId": "x2"}), now=t(10, 6))
    assert alerts(outs) == [("ALERT_ENDED", t(10), t(10))]
    outs = e.apply_state(parse_state_event({
        "tenantId": "t", "acdAgentId": "a", "timestamp": t(10), "gisStateIdentifier": 2,
        "eventId": "x3"}), now=t(10, 7))
    assert alerts(outs) == [("ALERT_STARTED", t(10) + 1, None)]


def test_ended_runs_between_evaluations_are_caught_up_even_long_after() -> None:
    """A late event revealing a whole run after the first evaluation: both messages."""
    e = engine()
    state(e, t(9), 3)
    e.tick(t(11))
    state(e, t(9, 30), 2, now=None)
    assert alerts(state(e, t(9, 40), 3, now=t(11, 1))) == [
        ("ALERT_STARTED", t(9, 30), None), ("ALERT_ENDED", t(9, 30), t(9, 40))]
    # but runs over before the agent's first evaluation raise nothing
    e2 = engine()
    state(e2, t(9), 3, now=None)
    state(e2, t(9, 30), 2, now=None)
    state(e2, t(9, 40), 3, now=None)
    assert alerts(e2.tick(t(11))) == []


def test_a_tick_before_any_event_does_not_silence_the_backlog() -> None:
    """A worker reads an agent's schedule, ticks it at the worker clock (23:00, no
    event of the agent known yet), then reads its backlog, each event evaluated at its
    own time (which counts as 23:00: time never goes back). Alerting starts at the
    earliest event, not at the tick (issue 15: the routers read the schedule and
    state topics at their own pace, so whether the tick came first was timing, and
    it silenced every past run). Each event is evaluated on the timeline as then
    known, so the runs are those of that moment (catch-up, SEMANTICS.md)."""
    backlog = [(t(9), 3), (t(9, 30), 2), (t(9, 40), 3), (t(10), 2)]
    ticked = engine()
    assert alerts(ticked.tick(t(23))) == []  # nothing known: nothing to raise
    got = [a for at, gis in backlog for a in alerts(state(ticked, at, gis))]
    assert got == [
        # READY from 9:00 all day, as known after the first event: OUT on the break
        ("ALERT_STARTED", t(12), None), ("ALERT_ENDED", t(12), t(12, 15)),
        # NOT_READY from 9:30 on: OUT up to the break, and after it (its time up to
        # 12:15 is covered: a run of its own from there)
        ("ALERT_STARTED", t(9, 30), None), ("ALERT_ENDED", t(9, 30), t(12)),
        ("ALERT_STARTED", t(12, 15), None), ("ALERT_ENDED", t(12, 15), t(17))]
    # the same across a snapshot taken before the events came
    blind = engine()
    blind.tick(t(23))
    reducer = blind.agents[("t", "7")]
    blind.agents[("t", "7")] = AgentReducer.restore(
        reducer.ctx, orjson.loads(orjson.dumps(reducer.snapshot())))
    assert [a for at, gis in backlog for a in alerts(state(blind, at, gis))] == got
    # an agent whose events came before its first evaluation: runs over by then
    # still raise nothing (a cold start does not flood the past)
    cold = engine()
    for at, gis in backlog:
        state(cold, at, gis, now=None)
    assert alerts(cold.tick(t(23))) == []


def test_an_evaluation_earlier_than_the_last_one_counts_at_the_last_one() -> None:
    e = engine()
    state(e, t(9), 3)
    state(e, t(10), 2, now=t(10, 5))  # STARTED at 10:05
    # a late READY at 10:03, evaluated "at 10:03" (event time) after 10:05: ends at 10:03
    assert alerts(state(e, t(10, 3), 3)) == [("ALERT_ENDED", t(10), t(10, 3))]


def test_alert_state_survives_a_snapshot_and_old_snapshots_restore() -> None:
    e = short_shift(t(10, 7))
    state(e, t(9), 3)
    state(e, t(10), 2)
    e.tick(t(10, 7))
    schedule(e, t(9), t(12), [("in_service", t(9), t(12))], now=None)  # not evaluated yet
    agent = e.agents[("t", "7")]
    snap = orjson.loads(orjson.dumps(agent.snapshot()))
    restored = AgentReducer.restore(agent.ctx, snap)
    assert restored.snapshot() == agent.snapshot()
    assert restored.next_deadline(t(10, 10)) == t(10, 10)  # a change waits
    assert alerts(restored.tick(t(10, 20))) == alerts(agent.tick(t(10, 20))) == [
        ("ALERT_STARTED", t(10, 7), None)]
    # the first snapshot format: [cursor, run start, open alert, last ended, recheck]
    old = {**snap, "alerts": [t(10, 7), None, None, t(10), True]}
    legacy = AgentReducer.restore(agent.ctx, old)
    assert (legacy.alerts.covered, legacy.alerts.origin, legacy.alerts.dirty_from) == \
        ([[t(10), t(10, 7)]], t(10, 7), t(10, 7))
    # the ended alert's id is not started again; the OUT time after the cursor is new
    assert alerts(legacy.tick(t(10, 20))) == [("ALERT_STARTED", t(10, 7), None)]



# -- properties: the reducer against the brute-force oracle (tests/support/oracle.py) --------------

Row = tuple[int, str, str, str, int, int | None]  # step, agent, type, alertId, start, end


def drive(steps: list[dict[str, Any]], tenants: dict[str, Any],
          restore_before: frozenset[int] | set[int] = frozenset(),
          agent_first: frozenset[int] | set[int] = frozenset()) -> list[Row]:
    """Feed ``steps`` to an engine: records with no evaluation, ``eval`` steps as a tick
    of every agent. ``restore_before``: JSON snapshot and restore of every agent before
    those steps. ``agent_first``: at those evaluations, evaluate the agent of the
    record just before on its own first (``apply_schedule(msg, now)`` / its reducer's
    ``tick``), as a worker applying a batch does, then tick every agent."""
    engine = Engine(TenantsConfig.from_mapping(tenants))
    rows: list[Row] = []
    last_agent: tuple[str, str] | None = None
    for i, step in enumerate(steps):
        if i in restore_before:
            for key, agent in list(engine.agents.items()):
                snap = orjson.loads(orjson.dumps(agent.snapshot()))
                engine.agents[key] = AgentReducer.restore(agent.ctx, snap)
        outs: list[Any] = []
        if step["kind"] == "eval":
            if i in agent_first and last_agent in engine.agents:
                outs += engine.agents[last_agent].tick(step["now"])
            outs += engine.tick(step["now"])
            last_agent = None
        elif step["kind"] == "state":
            ev = parse_state_event(step["body"])
            outs = engine.apply_state(ev)
            owner = engine.directory.get((ev.tenant_id, ev.acd_server_id, ev.acd_agent_id))
            last_agent = None if owner is None else (ev.tenant_id, owner)
        else:
            msg = parse_schedule(step["body"])
            outs = engine.apply_schedule(msg)
            last_agent = (msg.tenant_id, msg.agent_key)
        rows += [(i, o.agent_key, o.alert["type"], o.alert["alertId"], o.alert["start"],
                  o.alert["end"]) for o in outs if isinstance(o, AlertOut)]
    return rows


def oracle(steps: list[dict[str, Any]], tenants: dict[str, Any]) -> list[Row]:
    return [(r["step"], r["agentKey"], r["type"], r["alertId"], r["start"], r["end"])
            for r in reference_alerts(steps, tenants)]


def by_agent(rows: list[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(r[1], []).append(r)
    return out


def check_rules(rows: list[Row], last_now: int) -> None:
    """Rule 1 (one start, at most one end per id, the end after its start) and rule 2
    (an agent's alerts never overlap: [start, end), or [start, last evaluation) open)."""
    started: dict[str, Row] = {}
    ended: dict[str, Row] = {}
    for r in rows:
        book = started if r[2] == "ALERT_STARTED" else ended
        assert r[3] not in book, r
        if r[2] == "ALERT_ENDED":
            assert r[3] in started and r[5] is not None and r[5] >= r[4], r
        book[r[3]] = r
    for agent, mine in by_agent(list(started.values())).items():
        spans = sorted((r[4], ended[r[3]][5] if r[3] in ended else last_now) for r in mine)
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            assert e1 <= s2, (agent, spans)


@given(data=st.data(), scenario=alert_scenarios())
def test_alerts_equal_the_oracle_with_late_input_and_any_evaluation_times(
        data: st.DataObject, scenario: Any) -> None:
    """(a) Events in any order and duplicated, schedule changes anywhere, evaluations
    at random times (mostly a clock running ahead of the input, sometimes going back):
    the reducer emits exactly the oracle's alerts, at the same evaluations, in the same
    order per agent; and they obey rules 1 and 2."""
    events, scheds, tenants = scenario
    steps = data.draw(alert_steps(events, scheds))
    got = drive(steps, tenants)
    assert by_agent(got) == by_agent(oracle(steps, tenants))
    check_rules(got, max(s["now"] for s in steps if s["kind"] == "eval"))


@given(data=st.data(), scenario=alert_scenarios())
def test_alerts_do_not_depend_on_batching_or_snapshots(data: st.DataObject,
                                                        scenario: Any) -> None:
    """(b) For one sequence of inputs and evaluation times (late input allowed): the
    same alerts at the same evaluations whether each agent is evaluated on its own as
    its input is applied (a worker's batch) or with all the others, whether an
    evaluation is repeated (the repeat emits nothing), and with a snapshot/restore
    (through JSON) of every agent before any steps."""
    events, scheds, tenants = scenario
    steps = data.draw(alert_steps(events, scheds))
    plain = drive(steps, tenants)
    n = len(steps)
    restore = set(data.draw(st.lists(st.integers(0, n - 1), max_size=3)))
    first = {i for i in data.draw(st.lists(st.integers(0, n - 1), max_size=n))
             if steps[i]["kind"] == "eval"}
    repeated: list[dict[str, Any]] = []
    index: list[int] = []  # step of ``repeated`` -> step of ``steps``
    for i, step in enumerate(steps):
        repeated.append(step)
        index.append(i)
        if step["kind"] == "eval" and data.draw(st.booleans()):
            repeated.append(step)
            index.append(i)
    other = drive(repeated, tenants, restore_before={index.index(i) for i in restore},
                  agent_first={j for j, i in enumerate(index) if i in first})

    mapped: list[Row] = [(index[r[0]], r[1], r[2], r[3], r[4], r[5]) for r in other]
    # the same messages at the same evaluations, in the same order in each agent
    assert by_agent(mapped) == by_agent(plain)


@given(data=st.data(), scenario=alert_scenarios())
def test_in_order_input_alerts_do_not_depend_on_the_tick_schedule(data: st.DataObject,
                                                                  scenario: Any) -> None:
    """(c) In-order input: every schedule first, then the events in timestamp order,
    each agent evaluated once before any of it (at ALERT_BASE - 1), and no evaluation
    later than an event before that event is applied (ticks at an event's instant come
    after all the events of that instant). Then, whatever the ticks:

    * the alerts are exactly the maximal OUT runs of the final timeline that lasted
      their threshold, each started once and ended iff the run ended by the last
      evaluation (with its real end): live (ticks anywhere, among them every run's
      threshold crossing) = catch-up (no tick between the first and the last) =
      the final timeline (the oracle's OUT intervals);
    * live, each ALERT_STARTED comes at the evaluation at its threshold crossing
      (``at`` = start + threshold) and each ALERT_ENDED at the first evaluation at or
      after its end.
    """
    events, scheds, tenants = scenario
    ordered = sorted(events, key=lambda r: r["body"]["timestamp"])
    end = ALERT_BASE + (ALERT_SPAN_STEPS + 2) * ALERT_STEP
    t0 = ALERT_BASE - 1
    catch_up = [*scheds, {"kind": "eval", "now": t0}, *ordered, {"kind": "eval", "now": end}]
    runs = final_runs(catch_up, tenants)
    expected = {(f"t1:{agent}:{x}", x, y if y <= end else None)
                for agent, x, y, th in runs if min(y, end) - x >= th}
    threshold_of = {(f"t1:{agent}:{x}"): th for agent, x, _, th in runs}
    crossings = {x + th for _, x, _, th in runs}
    extra = data.draw(st.lists(st.integers(t0, end), max_size=15))
    ticks = sorted({*crossings, *extra, end})
    live: list[dict[str, Any]] = [*scheds, {"kind": "eval", "now": t0}]
    for rec in ordered:
        while ticks and ticks[0] < rec["body"]["timestamp"]:
            live.append({"kind": "eval", "now": ticks.pop(0)})
        live.append(rec)
    live += [{"kind": "eval", "now": x} for x in ticks]
    got_live = drive(live, tenants)
    got_catch_up = drive(catch_up, tenants)

    def alert_set(rows: list[Row]) -> set[tuple[str, int, int | None]]:
        ends = {r[3]: r[5] for r in rows if r[2] == "ALERT_ENDED"}
        return {(r[3], r[4], ends.get(r[3])) for r in rows if r[2] == "ALERT_STARTED"}

    assert alert_set(got_live) == alert_set(got_catch_up) == expected
    check_rules(got_live, end)
    evals = sorted(s["now"] for s in live if s["kind"] == "eval")
    for r in got_live:
        now = live[r[0]]["now"]
        if r[2] == "ALERT_STARTED":
            assert now == r[4] + threshold_of[r[3]], r
        else:
            assert r[5] is not None and now == next(x for x in evals if x >= r[5]), r


def final_runs(steps: list[dict[str, Any]],
               tenants: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    """(agent, start, end, threshold) of every maximal OUT run of the final timeline
    up to and including the last evaluation (end = that + 1: OUT there), by the
    oracle's own classification (no alert logic)."""
    from tests.support import oracle as ref

    records = [s for s in steps if s["kind"] != "eval"]
    end = max(s["now"] for s in steps if s["kind"] == "eval")
    inputs = ref._settle(records)
    out = []
    for agent in inputs.agent_display:
        cfg = ref._TenantConfig(tenants.get(agent[0]), "UTC")
        identities = sorted((i for i, a in inputs.directory.items() if a == agent),
                            key=lambda i: (i[1], i[2]))
        parts = inputs.schedules.get(agent, [])
        for x, y in ref._out_intervals(identities, inputs.events, parts, cfg, end):
            part = next(p for p in parts
                        if p.start <= x < p.end and cfg.category(p.activity_type) != ref.OFF)
            category = cfg.category(part.activity_type)
            out.append((agent[1], x, y, cfg.alert_ms_by_category.get(category, cfg.alert_ms)))
    return out


def test_the_oracle_on_the_issue_case() -> None:
    """The oracle (written from the rules, not from rta/) gives the issue's answer."""
    def sched(until: int, frm: int, to: int) -> dict[str, Any]:
        return {"kind": "schedule", "body": {
            "tenantId": "t", "agentId": 7, "acdAgentId": "a", "fromTimestamp": frm,
            "toTimestamp": to,
            "activities": [{"activityType": "in_service", "startTime": t(9), "endTime": until}]}}

    def ev(at: int, gis: int) -> dict[str, Any]:
        return {"kind": "state", "body": {"tenantId": "t", "acdAgentId": "a", "timestamp": at,
                                          "gisStateIdentifier": gis}}

    def now(at: int) -> dict[str, Any]:
        return {"kind": "eval", "now": at}

    steps = [sched(t(10, 7), t(0), t(24)), ev(t(9), 3), ev(t(10), 2), now(t(10, 1)),
             now(t(10, 7)), now(t(10, 10)), sched(t(12), t(9), t(12)), now(t(10, 20)),
             ev(t(10, 40), 3), now(t(10, 40)), now(t(13))]
    assert [(r["step"], r["type"], r["start"], r["end"])
            for r in reference_alerts(steps, {"t": {}})] == [
        (3, "ALERT_STARTED", t(10), None), (4, "ALERT_ENDED", t(10), t(10, 7)),
        (7, "ALERT_STARTED", t(10, 7), None), (9, "ALERT_ENDED", t(10, 7), t(10, 40))]
    assert drive(steps, {"t": {}}) == [
        (r["step"], "7", r["type"], r["alertId"], r["start"], r["end"])
        for r in reference_alerts(steps, {"t": {}})]


def test_a_deadline_passed_between_evaluations_is_due_at_once() -> None:
    """Evaluated last in event time (a backlog read at 9:00 of a day, say), the agent
    is due for what changed since then, even if a timer asks at a later hour: the
    break that started at 12:00 while it was READY is due at once, not at the next
    change after the timer's ``now`` (which left the status and the alert of the
    missed hours stale until then: found by the monitor's demo)."""
    e = engine()
    state(e, t(9), 3, now=t(9))
    agent = e.agents[("t", "7")]
    assert agent.next_deadline(t(13)) == t(12)  # <= now: the timer ticks it at once
    assert alerts(e.tick(t(13))) == [("ALERT_STARTED", t(12), None),
                                     ("ALERT_ENDED", t(12), t(12, 15))]
    assert agent.status(t(13))["adherence"] == "IN"
