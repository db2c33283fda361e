"""Property tests: incremental == from-scratch == independent oracle."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.replay import replay_log
from tests.support.oracle import reference_ms, reference_summaries
from tests.support.strategies import BASE, STEP, arrival_orders, scenarios


def from_scratch(events: list[dict[str, Any]], scheds: list[dict[str, Any]],
                 tenants: dict[str, Any], as_of: int | None) -> list[dict[str, Any]]:
    """Every schedule first, then the state events in timestamp order."""
    ordered = sorted(events, key=lambda r: r["body"]["timestamp"])
    return replay_log(scheds + ordered, tenants, as_of=as_of).summaries


@given(data=st.data(), scenario=scenarios())
def test_any_arrival_order_equals_from_scratch_and_oracle(data: st.DataObject,
                                                          scenario: Any) -> None:
    events, scheds, tenants = scenario
    records = data.draw(arrival_orders(events, scheds))
    as_of = data.draw(st.sampled_from([None, None, BASE + 150 * STEP + 777]))
    incremental = replay_log(records, tenants, as_of=as_of)
    assert incremental.rejected == []
    expected = from_scratch(events, scheds, tenants, as_of)
    assert incremental.summaries == expected
    assert incremental.summaries == reference_summaries(records, tenants, as_of=as_of)


@given(data=st.data(), scenario=scenarios())
def test_incremental_emission_converges(data: st.DataObject, scenario: Any) -> None:
    """Summaries emitted batch by batch end equal to the full recompute (upserts/deletes)."""
    events, scheds, tenants = scenario
    records = data.draw(arrival_orders(events, scheds))
    engine = Engine(TenantsConfig.from_mapping(tenants))
    latest: dict[str, Any] = {}
    for rec in records:
        if rec["kind"] == "state":
            engine.apply_state(parse_state_event(rec["body"]))
        else:
            engine.apply_schedule(parse_schedule(rec["body"]))
        if data.draw(st.booleans()):
            for out in engine.build_changed(as_of=None):
                latest[out.key] = out.summary
    for out in engine.build_changed(as_of=None):
        latest[out.key] = out.summary
    emitted = sorted((k, v) for k, v in latest.items() if v is not None)
    full = {f"{s['tenantId']}:{s['agentId']}:{s['date']}": s for s in engine.summaries(None)}
    # the same days, not more: an agent still logged in after its last data point
    # has no summary for the days after it (a schedule window ending at midnight
    # once made the worker publish the next day as logged in all day: seed 121)
    assert {k for k, _ in emitted} == set(full)
    for key, summary in emitted:
        assert summary == full[key], key


@given(data=st.data(), scenario=scenarios())
def test_milliseconds_are_conserved(data: st.DataObject, scenario: Any) -> None:
    events, scheds, tenants = scenario
    records = data.draw(arrival_orders(events, scheds))
    engine = replay_log(records, tenants).engine
    assert engine is not None
    ref = reference_ms(records, tenants)
    seen = set()
    for agent in engine.agents.values():
        for o in agent.candidate_days(None):
            acc = agent.day_acc(o, None)
            ds, de, parts = agent.scheduled_parts(o)
            scheduled = sum(min(p.end, de) - max(p.start, ds) for p in parts)
            # every scheduled millisecond is IN, OUT or NEUTRAL, exactly once
            assert acc.in_ms + acc.out_ms + acc.neutral_ms == scheduled
            for d in acc.details.values():
                assert sum(r.in_ms for r in d.runs) == d.in_ms
                assert sum(r.out_ms for r in d.runs) == d.out_ms
            assert sum(d.in_ms for d in acc.details.values()) == acc.in_ms
            assert acc.unscheduled_ms <= (de - ds) - scheduled
            key = (agent.ctx.tenant_id, agent.agent_key, agent.ctx.calendar.iso(o))
            if key in ref:
                seen.add(key)
                assert (acc.in_ms, acc.out_ms, acc.neutral_ms, acc.unscheduled_ms,
                        acc.in_service_ms) == (ref[key]["in"], ref[key]["out"],
                                               ref[key]["neutral"], ref[key]["unscheduled"],
                                               ref[key]["actual_in_service"])
    assert seen == set(ref)


@given(data=st.data(), scenario=scenarios())
def test_alerts_match_the_out_runs_of_the_final_timeline(data: st.DataObject,
                                                         scenario: Any) -> None:
    """In-order input with ticks anywhere: ALERT_STARTED ids are exactly the OUT runs
    (from the first evaluation on) that reached their threshold; each ended run is ended."""
    from rta.outputs import AlertOut
    from rta.rules import Adherence

    events, scheds, tenants = scenario
    tenants["t1"]["alert_after_seconds"] = data.draw(st.sampled_from([60, 900, 3600]))
    engine = Engine(TenantsConfig.from_mapping(tenants))
    for rec in scheds:
        engine.apply_schedule(parse_schedule(rec["body"]))
    ordered = sorted(events, key=lambda r: r["body"]["timestamp"])
    end = BASE + 400 * STEP
    ticks = sorted(data.draw(st.lists(st.integers(BASE, end), max_size=20)))
    started: dict[str, dict[str, Any]] = {}
    ended: dict[str, dict[str, Any]] = {}
    first_eval: dict[str, int] = {}

    def collect(outs: list[Any]) -> None:
        for o in outs:
            if isinstance(o, AlertOut):
                book = started if o.alert["type"] == "ALERT_STARTED" else ended
                assert o.alert["alertId"] not in book  # never twice
                book[o.alert["alertId"]] = o.alert

    def tick(now: int) -> None:
        for agent in engine.agents.values():
            first_eval.setdefault(agent.agent_key, now)
        collect(engine.tick(now))

    for i, rec in enumerate(ordered):
        ts = rec["body"]["timestamp"]
        while ticks and ticks[0] < ts:
            tick(ticks.pop(0))
        ev = parse_state_event(rec["body"])
        # evaluate once all events of this instant are in (as a batching worker does)
        last = i + 1 == len(ordered) or ordered[i + 1]["body"]["timestamp"] != ts
        key = engine.directory.get((ev.tenant_id, ev.acd_server_id, ev.acd_agent_id))
        if key is not None and last:
            first_eval.setdefault(key, ts)
        collect(engine.apply_state(ev, now=ts if last else None))
    for x in [*ticks, end]:
        tick(x)

    expected_started, expected_ended = set(), set()
    settings = engine.context("t1").settings
    for agent in engine.agents.values():
        runs: list[list[int]] = []
        for x, y, cls, _, _ in agent.pieces(BASE - 10 * STEP, end):
            if cls is Adherence.OUT:
                if runs and runs[-1][1] == x:
                    runs[-1][1] = y
                else:
                    runs.append([x, y])
        if agent.classify_at(end)[0] is Adherence.OUT and runs and runs[-1][1] == end:
            runs[-1][1] = end + 1  # still open at the last tick
        for s, e in runs:
            if e <= first_eval[agent.agent_key]:
                continue  # over before the agent was first evaluated
            part = agent.schedule.part_at(s)
            threshold = settings.alert_threshold_ms(part.category if part else "OFF")
            if min(e, end) - s >= threshold:
                aid = f"t1:{agent.agent_key}:{s}"
                expected_started.add(aid)
                if e <= end:
                    expected_ended.add(aid)
    assert set(started) == expected_started
    assert set(ended) == expected_ended


@given(data=st.data(), scenario=scenarios())
def test_a_restored_snapshot_behaves_like_the_original(data: st.DataObject,
                                                       scenario: Any) -> None:
    """Snapshot anywhere, restore, feed the rest: same summaries and alerts."""
    import orjson

    from rta.agent import AgentReducer
    from rta.outputs import AlertOut

    events, scheds, tenants = scenario
    records = data.draw(arrival_orders(events, scheds))
    cut = data.draw(st.integers(0, len(records)))
    now0 = BASE + 200 * STEP

    def run(restore_at: int | None) -> tuple[list[Any], list[Any]]:
        engine = Engine(TenantsConfig.from_mapping(tenants))
        alerts = []
        for i, rec in enumerate(records):
            if i == restore_at:
                for key, agent in list(engine.agents.items()):
                    snap = orjson.loads(orjson.dumps(agent.snapshot()))
                    engine.agents[key] = AgentReducer.restore(agent.ctx, snap)
            now = now0 + i * 1000
            outs = (engine.apply_state(parse_state_event(rec["body"]), now)
                    if rec["kind"] == "state" else
                    engine.apply_schedule(parse_schedule(rec["body"]), now))
            alerts += [o.alert for o in outs if isinstance(o, AlertOut)]
        return engine.summaries(None), alerts

    assert run(cut) == run(None)


@given(data=st.data(), scenario=scenarios(),
       horizon=st.sampled_from([3600, 6 * 3600, 86400, 2 * 86400]))
def test_pruning_keeps_every_day_from_the_floor_exact(data: st.DataObject, scenario: Any,
                                                      horizon: int) -> None:
    """An engine whose agents forget what the horizon no longer reaches (``prune``
    after any record) publishes, for every day from each agent's floor on, what an
    engine keeping the whole history publishes from the same events; the only
    difference is that state events before the floor (that their identity's horizon
    admits) also ask for a recompute of the final days they reach. A snapshot of the
    pruned agent restores to the same summaries."""
    import orjson

    from rta.agent import AgentReducer
    from rta.outputs import RecomputeNeeded

    events, scheds, tenants = scenario
    tenants = {k: {**v, "lateness_horizon_seconds": horizon} for k, v in tenants.items()}
    records = data.draw(arrival_orders(events, scheds))
    pruned = Engine(TenantsConfig.from_mapping(tenants))
    whole = Engine(TenantsConfig.from_mapping(tenants))
    floor_rejections = 0
    for rec in records:
        if rec["kind"] == "schedule":
            pruned.apply_schedule(parse_schedule(rec["body"]))
            whole.apply_schedule(parse_schedule(rec["body"]))
        else:
            ev = parse_state_event(rec["body"])
            outs = pruned.apply_state(ev)
            floor_rejected = [o for o in outs if isinstance(o, RecomputeNeeded)]
            if floor_rejected:
                owner = pruned.directory[(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)]
                floor = pruned.agents[(ev.tenant_id, owner)].floor
                assert floor is not None and ev.timestamp < floor
                [need] = floor_rejected
                assert need.event is not None and need.event["timestamp"] == ev.timestamp
                cal = pruned.agents[(ev.tenant_id, owner)].ctx.calendar
                assert need.first == cal.iso(cal.ordinal(ev.timestamp)) <= need.last \
                    < cal.iso(cal.ordinal(floor))
                floor_rejections += 1
            whole.apply_state(ev)
        if data.draw(st.booleans()):
            for agent in pruned.agents.values():
                agent.prune()
    for key, agent in pruned.agents.items():
        agent.prune()
        full = whole.agents[key].build_all(None)
        first = agent.ctx.calendar.ordinal(agent.floor) if agent.floor is not None else None
        expected = [(o.key, o.summary) for o in full
                    if first is None or o.key.rsplit(":", 1)[1] >= agent.ctx.calendar.iso(first)]
        got = [(o.key, o.summary) for o in agent.build_all(None)]
        assert got == expected
        restored = AgentReducer.restore(agent.ctx, orjson.loads(orjson.dumps(agent.snapshot())))
        assert [(o.key, o.summary) for o in restored.build_all(None)] == expected
