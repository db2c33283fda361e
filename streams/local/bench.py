"""``rta bench core``: state events per second through the reducer.

Figures are measured in one run on this machine: the incremental reducer on
in-order events and with 5 % late events, and as the baseline the cost of
keeping results current by recomputing the agent's day from scratch after
every event (what an engine without incremental accounting must do).
"""

from __future__ import annotations

import gc
import resource
import time
from typing import Any

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import ScheduleMessage, StateEvent, parse_schedule, parse_state_event
from streams.local.simulate import CentreSpec, generate
from streams.worker.run import tune_gc


def _parsed(spec: CentreSpec) -> tuple[list[ScheduleMessage], list[StateEvent], float, int]:
    records = list(generate(spec))
    t0 = time.perf_counter()
    scheds = [parse_schedule(r["body"]) for r in records if r["kind"] == "schedule"]
    states = [parse_state_event(r["body"]) for r in records if r["kind"] == "state"]
    parse_s = time.perf_counter() - t0
    return scheds, states, parse_s, len(records)


def _tenants(spec: CentreSpec) -> TenantsConfig:
    return TenantsConfig.from_mapping({spec.tenant: {"time_zone": spec.time_zone}})


def _run_incremental(spec: CentreSpec, scheds: list[ScheduleMessage],
                     states: list[StateEvent], batch: int) -> dict[str, Any]:
    """Apply every event; build the changed summaries once per ``batch`` events."""
    engine = Engine(_tenants(spec))
    for m in scheds:
        engine.apply_schedule(m)
    engine.build_changed(None)
    gc.collect()
    t0 = time.perf_counter()
    built = 0
    watermark = 0
    for i, ev in enumerate(states, 1):
        engine.apply_state(ev)
        watermark = max(watermark, ev.timestamp)
        if i % batch == 0:  # as a worker does: as of now (here: the newest event time)
            built += len(engine.build_changed(watermark))
    built += len(engine.build_changed(watermark))
    total = time.perf_counter() - t0
    return {"events": len(states), "seconds": total, "per_s": len(states) / total,
            "summaries_built": built}


def _run_apply_only(spec: CentreSpec, scheds: list[ScheduleMessage],
                    states: list[StateEvent]) -> float:
    engine = Engine(_tenants(spec))
    for m in scheds:
        engine.apply_schedule(m)
    gc.collect()
    t0 = time.perf_counter()
    for ev in states:
        engine.apply_state(ev)
    return len(states) / (time.perf_counter() - t0)


def _run_from_scratch(spec: CentreSpec, scheds: list[ScheduleMessage],
                      states: list[StateEvent]) -> float:
    """Baseline: after every event, recompute that agent's day from its timeline."""
    engine = Engine(_tenants(spec))
    for m in scheds:
        engine.apply_schedule(m)
    t0 = time.perf_counter()
    for ev in states:
        engine.apply_state(ev)
        agent_key = engine.directory.get((ev.tenant_id, ev.acd_server_id, ev.acd_agent_id))
        if agent_key is None:
            continue
        agent = engine.agents[(ev.tenant_id, agent_key)]
        o = agent.ctx.calendar.ordinal(ev.timestamp)
        ds, de = agent.ctx.calendar.bounds(o)
        agent._fresh(ds, min(de, ev.timestamp))
    return len(states) / (time.perf_counter() - t0)


def bench_core(agents: int = 2000, days: int = 1, baseline_agents: int = 100) -> int:
    tune_gc()  # as the stream worker runs
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spec = CentreSpec(agents=agents, days=days, seed=7, multichannel_fraction=0.1)
    scheds, states, parse_s, n_records = _parsed(spec)
    print(f"synthetic centre: {agents} agents x {days} day(s), {len(states):,} state events, "
          f"{len(scheds):,} schedule messages (America/Chicago)")
    print(f"  parse + validate (pydantic): {n_records / parse_s:>12,.0f} records/s")

    apply_only = _run_apply_only(spec, scheds, states)
    per_1k = _run_incremental(spec, scheds, states, 1_000)
    per_10k = _run_incremental(spec, scheds, states, 10_000)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    late_spec = CentreSpec(agents=agents, days=days, seed=7, multichannel_fraction=0.1,
                           late_fraction=0.05)
    l_scheds, l_states, _, _ = _parsed(late_spec)
    late_apply = _run_apply_only(late_spec, l_scheds, l_states)
    late_10k = _run_incremental(late_spec, l_scheds, l_states, 10_000)

    base_spec = CentreSpec(agents=baseline_agents, days=days, seed=7,
                           multichannel_fraction=0.1)
    b_scheds, b_states, _, _ = _parsed(base_spec)
    baseline = _run_from_scratch(base_spec, b_scheds, b_states)
    same_size = _run_apply_only(base_spec, b_scheds, b_states)
    build_us = 1e6 * (per_1k["seconds"] - len(states) / apply_only) / per_1k["summaries_built"]

    rows = [
        ("in order, apply only", apply_only),
        ("in order, + changed summaries every 1,000 events", per_1k["per_s"]),
        ("in order, + changed summaries every 10,000 events", per_10k["per_s"]),
        ("5 % late, apply only", late_apply),
        ("5 % late, + changed summaries every 10,000 events", late_10k["per_s"]),
    ]
    for name, rate in rows:
        print(f"  {name:<52} {rate:>10,.0f} events/s")
    print(f"  one day-summary build (~{len(states) // max(agents * days, 1)} events/agent-day): "
          f"{build_us:,.0f} us")
    print(f"  baseline, {baseline_agents} agents: recompute the agent's day from scratch after "
          f"every event: {baseline:,.0f} events/s")
    print(f"  incremental on the same {baseline_agents} agents (apply only): "
          f"{same_size:,.0f} events/s = {same_size / baseline:.1f}x the baseline")
    print(f"  max RSS after the in-order runs: {rss1 / 1024:,.0f} MiB "
          f"(at start {rss0 / 1024:,.0f} MiB)")
    target = 50_000
    for name, rate in (("per-event path (apply only)", apply_only),
                       ("with full summaries every 10,000 events", per_10k["per_s"])):
        verdict = "meets" if rate >= target else "misses"
        print(f"  target >= {target:,} in-order events/s on one core, {name}: {verdict}")
    return 0
