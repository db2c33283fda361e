"""`rta bench recompute`: how long recomputing a month of a large tenant takes.

A throwaway local PostgreSQL is filled (COPY, as the history sink would have over
the month) with a simulated centre, generated in parts of 250 agents to bound
memory; then :func:`streams.history.runner.recompute` rebuilds every day of the range
from it and writes the summaries to the database (no broker: ``publish=False``).
The baseline, measured in the same run, is the core replaying the same inputs
from memory (no database) for the first part's agents: the ratio shows what the
database round trips cost.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import orjson

from rta.config import TenantsConfig
from rta.models import parse_schedule, parse_state_event
from streams.history.migrate import upgrade
from streams.history.recompute import Range, compute
from streams.history.rows import Rows, add_schedule, add_state
from streams.history.runner import recompute, report
from streams.local.postgres import LocalPostgres
from streams.local.simulate import CentreSpec, generate
from streams.settings import WorkerSettings

PART = 250
TENANT = "bench"
ZONE = "America/Chicago"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _load(dsn: str, records: list[dict[str, Any]], part: int) -> tuple[int, int]:
    """COPY the records into the history tables, as rows the history sink builds
    (``streams.history.rows``: the same validation and normalisation)."""
    rows = Rows()
    for i, r in enumerate(records):
        value = orjson.dumps(r["body"])
        if r["kind"] == "state":
            add_state(rows, value, r["body"]["timestamp"])
        else:
            add_schedule(rows, value, part, i, r["body"]["fromTimestamp"])
    states = [(x["tenant_id"], x["acd_server_id"], x["acd_agent_id"], x["event_key"], x["ts"],
               x["state"], x["reason"], x["reason_is_int"], x["event_id"], x["received_at"])
              for x in rows.states]
    schedules = [(x["tenant_id"], x["agent_id"], x["body_sha256"], x["kafka_partition"],
                  x["kafka_offset"], x["from_ts"], x["to_ts"], orjson.dumps(x["body"]).decode(),
                  x["received_at"]) for x in rows.schedules]
    directory = [(x["tenant_id"], x["acd_server_id"], x["acd_agent_id"], x["agent_id"],
                  x["updated_at"]) for x in rows.directory.values()]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("state_events", records=states, columns=[
            "tenant_id", "acd_server_id", "acd_agent_id", "event_key", "ts", "state",
            "reason", "reason_is_int", "event_id", "received_at"])
        await conn.copy_records_to_table("schedule_messages", records=schedules, columns=[
            "tenant_id", "agent_id", "body_sha256", "kafka_partition", "kafka_offset",
            "from_ts", "to_ts", "body", "received_at"])
        await conn.copy_records_to_table("agent_directory", records=directory, columns=[
            "tenant_id", "acd_server_id", "acd_agent_id", "agent_id", "updated_at"])
    finally:
        await conn.close()
    return len(states), len(schedules)


def bench_recompute(agents: int, days: int, jobs: list[int] | None = None) -> int:
    first = date(2026, 3, 1)
    last = first + timedelta(days=days - 1)
    tenants = TenantsConfig.from_mapping({TENANT: {"time_zone": ZONE}})
    with LocalPostgres() as pg:
        upgrade(pg.url)
        dsn = pg.dsn
        t0 = time.perf_counter()
        events = schedules = 0
        baseline_inputs: list[tuple[str, Any]] = []
        for part, start in enumerate(range(0, agents, PART)):
            spec = CentreSpec(agents=min(PART, agents - start), days=days, start=first,
                              time_zone=ZONE, tenant=TENANT, seed=part + 1,
                              first_agent=start)
            records = list(generate(spec))
            n_ev, n_sch = asyncio.run(_load(dsn, records, part))
            events, schedules = events + n_ev, schedules + n_sch
            if part == 0:  # the baseline: the same agents' inputs, from memory
                baseline_inputs = [
                    ("schedule", parse_schedule(r["body"])) for r in records
                    if r["kind"] == "schedule"] + sorted(
                    (("state", parse_state_event(r["body"])) for r in records
                     if r["kind"] == "state"), key=lambda x: x[1].timestamp)
            print(f"  loaded {start + spec.agents:,} agents: {events:,} state events, "
                  f"{schedules:,} schedule messages ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
        load_s = time.perf_counter() - t0
        asyncio.run(_sql(dsn, "ANALYZE"))

        rng = Range.of(tenants, TENANT, first, last)
        base_agents = min(PART, agents)
        t1 = time.perf_counter()
        n_base = len(compute(baseline_inputs, tenants, rng, None))
        base_s = time.perf_counter() - t1
        base_events = sum(k == "state" for k, _ in baseline_inputs)
        del baseline_inputs

        settings = WorkerSettings(database_url=pg.url)
        runs = []
        for n in jobs or [1]:
            asyncio.run(_sql(dsn, "TRUNCATE day_summaries"))  # each run writes from empty
            stats = asyncio.run(recompute(settings, tenants, TENANT, first, last, None,
                                          int(time.time() * 1000), publish=False, jobs=n))
            runs.append((n, stats, _rss_mib()))
    base_per_s = base_events / base_s
    print(f"history of {agents:,} agents x {days} days: {events:,} state events, "
          f"{schedules:,} schedule messages, loaded in {load_s:.0f} s")
    single = None
    for n, stats, rss in runs:
        per_s = stats["events"] / stats["seconds"]
        if n == 1:
            single = stats["seconds"]
        vs = f"; {single / stats['seconds']:.2f}x --jobs 1" if single and n > 1 else ""
        print(f"  rta recompute --jobs {n} of the whole range: {report(stats)}: "
              f"{per_s:,.0f} events/s (recompute/baseline = {per_s / base_per_s:.2f}{vs}); "
              f"peak RSS of this process so far {rss:,.0f} MiB")
    print(f"  baseline, the core on {base_agents} agents' inputs from memory: "
          f"{base_events:,} events -> {n_base:,} summaries in {base_s:.1f} s = "
          f"{base_per_s:,.0f} events/s")
    return 0


async def _sql(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
