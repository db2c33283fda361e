"""``rta bench pipeline``: the stream service on a broker it starts.

1. Catch-up: a backlog of state events (and the schedules that make their
   agents known) is produced first; then one worker (`rta worker`, a
   subprocess) processes it. The rate is read from the worker's ``rta stats``
   log lines: items applied by the reducers per second, between the first line
   showing progress and the line showing the whole backlog applied.
   Baseline, in the same run on the same broker: plain aiokafka doing the same
   work per event (decode and validate, the core reducer, one state record and
   one output record produced).
2. Live: N agents each changing state about once a minute (events stamped with
   the wall clock when produced); the latency is the time from that stamp to
   the agent's status on ``rta.agent-status`` (p50/p99).

``--live-only`` skips the backlog: N agents get a schedule (in service from two
hours ago to six hours ahead) and a login, then the live phase runs at that
scale (100,000 agents: about 1,700 state changes/s, every agent logged in, so
the refresh timer rebuilds about 1,700 day summaries/s besides).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rta.agent import AgentReducer, TenantContext
from rta.config import TenantsConfig
from rta.models import parse_schedule
from rta.schedule import resolve_activities
from streams.codec import decode_state
from streams.kafka import produce_records
from streams.local.broker import free_port, make_broker
from streams.local.simulate import CentreSpec, generate
from streams.settings import WorkerSettings
from streams.topics import ensure_topics

STATS = re.compile(r"rta stats t=([\d.]+) routed=(\d+) applied=(\d+)")


def _stats(log: Path) -> list[tuple[float, int, int]]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [(float(t), int(r), int(a)) for t, r, a in STATS.findall(text)]


async def _baseline(settings: WorkerSettings, records: list[dict[str, Any]],
                    tenants: TenantsConfig) -> float:
    """Plain aiokafka: consume the state topic, decode, reduce, produce 2 records/event."""
    ctx_cache: dict[str, TenantContext] = {}
    reducers: dict[tuple[str, str, str], AgentReducer] = {}
    for rec in records:  # the directory: schedules make identities known
        if rec["kind"] != "schedule":
            continue
        msg = parse_schedule(rec["body"])
        ctx = ctx_cache.setdefault(msg.tenant_id, TenantContext(msg.tenant_id,
                                                                tenants.get(msg.tenant_id)))
        red = AgentReducer(ctx, msg.agent_key)
        parts = resolve_activities(msg.from_ts, msg.to_ts, ((a.activity_type, a.start, a.end)
                                   for a in msg.activities), ctx.rules)
        red.apply_schedule(msg.agent_id, msg.acd_agent_id, msg.from_ts, msg.to_ts, parts)
        for ident in msg.identities:
            red.add_identity(ident)
            reducers.setdefault((msg.tenant_id, *ident), red)
    total = sum(1 for r in records if r["kind"] == "state")
    consumer = AIOKafkaConsumer(settings.topic_state, bootstrap_servers=settings.bootstrap,
                                group_id="bench-baseline", auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=100)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=10)
    await consumer.start()
    await producer.start()
    done = 0
    t0 = time.perf_counter()
    try:
        while done < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            futures = []
            for msgs in batch.values():
                for m in msgs:
                    ev = decode_state(m.value, settings.max_message_bytes)
                    red = reducers[(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id)]
                    outs = red.apply_state(ev.identity, ev.timestamp, ev.state, ev.reason,
                                           ev.event_id, ev.timestamp)
                    futures.append(await producer.send(
                        "bench-state", orjson.dumps([ev.timestamp, ev.state]), key=m.key))
                    futures.append(await producer.send(
                        "bench-out", orjson.dumps(len(outs)), key=m.key))
                    done += 1
            for f in futures:
                await f
            if futures:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return total / (time.perf_counter() - t0)


def _start_worker(broker: str, tmp: Path, tenants: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp / "worker.log"
    port = free_port()  # the worker's HTTP API
    env = {**os.environ, "RTA_STATS_SECONDS": "0.5", "RTA_WEB_PORT": str(port),
           "RTA_WEB_BIND": "127.0.0.1", "RTA_WEB_ADVERTISED_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "worker", "--broker", broker,
         "--data-dir", str(tmp / "data"), "--tenants", str(tenants)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    return proc, log


async def _live(settings: WorkerSettings, tenant: str, agents: list[tuple[str, str]],
                seconds: float, by_window: dict[int, list[float]] | None = None
                ) -> list[float]:
    """Each agent changes state about once a minute; returns latencies in ms (and
    adds them to ``by_window``: 10-second windows of the run, by send time)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5)
    consumer = AIOKafkaConsumer(settings.topic_status, bootstrap_servers=settings.bootstrap,
                                auto_offset_reset="latest", fetch_max_wait_ms=50)
    await producer.start()
    await consumer.start()
    await consumer.seek_to_end()
    latencies: list[float] = []
    seen: set[tuple[bytes | None, int]] = set()
    start_ms = int(time.time() * 1000)
    stop = time.monotonic() + seconds
    rng = random.Random(5)

    async def collect() -> None:
        while time.monotonic() < stop + 3:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time() * 1000
            for msgs in batch.values():
                for m in msgs:
                    since = orjson.loads(m.value).get("since") if m.value else None
                    # the first status of a new state only: a later status of the same
                    # run (its activity or adherence changed) is not a state change
                    if since is not None and since >= start_ms and (m.key, since) not in seen:
                        seen.add((m.key, since))
                        latencies.append(now - since)
                        if by_window is not None:
                            by_window.setdefault(int((since - start_ms) // 10_000),
                                                 []).append(now - since)

    task = asyncio.create_task(collect())
    rate = len(agents) / 60.0
    step = 0.05
    sent = 0.0
    state = 3
    try:
        while time.monotonic() < stop:
            t = time.monotonic()
            sent += rate * step
            while sent >= 1:
                sent -= 1
                server, acd = agents[rng.randrange(len(agents))]
                state = 4 if state == 3 else 3
                body = {"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
                        "gisStateIdentifier": state, "timestamp": int(time.time() * 1000)}
                await producer.send(settings.topic_state, orjson.dumps(body),
                                    key=f"{tenant}:{server}:{acd}".encode())
            await asyncio.sleep(max(0.0, step - (time.monotonic() - t)))
        await producer.flush()
        await task
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _wait_applied(proc: subprocess.Popen[bytes], log: Path, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _stats(log)
        if rows and rows[-1][2] >= n:
            return True
        if proc.poll() is not None:
            print(log.read_text()[-3000:], file=sys.stderr)
            return False
        time.sleep(0.5)
    print(f"the worker applied {(_stats(log) or [(0, 0, 0)])[-1][2]:,} of {n:,} items "
          f"in {timeout:.0f} s", file=sys.stderr)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def _bench_broker(tenants_text: str, kind: str) -> Iterator[tuple[Path, Path, WorkerSettings]]:
    """A temporary directory with the tenants file, a local broker, the topics."""
    with tempfile.TemporaryDirectory(prefix="rta-bench-") as d:
        tmp = Path(d)
        tenants_file = tmp / "tenants.toml"
        tenants_file.write_text(tenants_text)
        broker = make_broker(kind, log=tmp / "broker.log")
        with broker:
            settings = WorkerSettings(broker_url=broker.url)
            asyncio.run(ensure_topics(settings))
            yield tmp, tenants_file, settings


def bench_live(agents: int, live_seconds: float, broker: str = "tansu") -> int:
    """The live phase alone, at scale: seed N logged-in agents, then measure."""
    tenant, hour = "bench", 3_600_000
    now = int(time.time() * 1000)
    idents = [("1", f"a{i}") for i in range(agents)]
    schedules = [{"kind": "schedule", "body": {
        "tenantId": tenant, "agentId": i, "acdServerId": "1", "acdAgentId": acd,
        "fromTimestamp": now - 4 * hour, "toTimestamp": now + 8 * hour,
        "activities": [{"activityType": "in_service", "startTime": now - 2 * hour,
                        "endTime": now + 6 * hour}]}} for i, (_, acd) in enumerate(idents)]
    logins = [{"kind": "state", "body": {
        "tenantId": tenant, "acdServerId": "1", "acdAgentId": acd, "gisStateIdentifier": 3,
        "timestamp": now - hour + i % 60_000, "eventId": f"login-{acd}"}}
        for i, (_, acd) in enumerate(idents)]
    with _bench_broker(f'[tenants.{tenant}]\ntime_zone = "UTC"\n', broker) as (tmp, tenants_file,
                                                                      settings):
        proc, log = _start_worker(settings.broker_url, tmp, tenants_file)
        try:
            t0 = time.perf_counter()
            asyncio.run(produce_records(settings, schedules))
            if not _wait_applied(proc, log, agents, 1800):
                return 1
            asyncio.run(produce_records(settings, logins))
            if not _wait_applied(proc, log, 2 * agents, 1800):
                return 1
            print(f"seeded {agents:,} agents (a schedule and a login each) in "
                  f"{time.perf_counter() - t0:.0f} s; worker RSS {_rss_mib(proc.pid):,.0f} MiB")
            time.sleep(5)  # let the first summaries go out
            windows: dict[int, list[float]] = {}
            lat = asyncio.run(_live(settings, tenant, idents, live_seconds, windows))
            print(f"  live: {agents:,} agents x 1 change/min ({agents / 60:,.0f} events/s) "
                  f"for {live_seconds:.0f} s: state change -> rta.agent-status "
                  f"p50 {_pct(lat, 50):,.0f} ms, p99 {_pct(lat, 99):,.0f} ms, "
                  f"max {max(lat, default=float('nan')):,.0f} ms ({len(lat):,} samples; "
                  f"target p99 <= 500 ms at 100,000 agents); worker RSS "
                  f"{_rss_mib(proc.pid):,.0f} MiB")
            print("    p99 by 10-s window of the run: " + ", ".join(
                f"{w * 10}s {_pct(v, 99):,.0f} ms" for w, v in sorted(windows.items())))
        finally:
            _stop(proc)
    return 0


def bench_pipeline(agents: int, days: int, live_seconds: float, broker: str = "tansu") -> int:
    spec = CentreSpec(agents=agents, days=days, tenant="bench", seed=11,
                      multichannel_fraction=0.1)
    records = list(generate(spec))
    items = len(records)
    n_states = sum(1 for r in records if r["kind"] == "state")
    tenants_text = f'[tenants.bench]\ntime_zone = "{spec.time_zone}"\n'
    tenants = TenantsConfig.from_toml(tenants_text)
    with _bench_broker(tenants_text, broker) as (tmp, tenants_file, settings):
        t0 = time.perf_counter()
        asyncio.run(produce_records(settings, records))
        print(f"produced {items:,} records ({n_states:,} state events, {agents:,} agents, "
              f"{days} day(s)) in {time.perf_counter() - t0:.1f} s")

        base = asyncio.run(_baseline(settings, records, tenants))
        print(f"  baseline, plain aiokafka (decode, reducer, 2 records out per event): "
              f"{base:,.0f} events/s")

        proc, log = _start_worker(settings.broker_url, tmp, tenants_file)
        try:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                rows = _stats(log)
                if rows and rows[-1][2] >= items:
                    break
                if proc.poll() is not None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.5)
            rows = _stats(log)
            moving = [r for r in rows if r[1] > 0]
            if not moving or rows[-1][2] < items:
                print(f"the worker did not finish the backlog: {rows[-1:]}", file=sys.stderr)
                return 1
            first = moving[0]
            last = next(r for r in rows if r[2] >= items)
            # the first line with progress already counts work since the start:
            # measure from the line before it (or assume 0.5 s)
            i = rows.index(first)
            t_start = rows[i - 1][0] if i > 0 else first[0] - 0.5
            rate = items / max(last[0] - t_start, 1e-9)
            print(f"  rta worker (faust), catch-up of the backlog: {rate:,.0f} events/s "
                  f"(ratio to the baseline {rate / base:.2f}; target >= 5,000 and >= 0.25)")

            known = sorted({(r["body"].get("acdServerId", "1"), r["body"]["acdAgentId"])
                            for r in records if r["kind"] == "state"})
            lat = asyncio.run(_live(settings, spec.tenant, known, live_seconds))
            print(f"  live: {len(known):,} agents x 1 change/min ({len(known) / 60:,.0f} "
                  f"events/s) for {live_seconds:.0f} s: state change -> rta.agent-status "
                  f"p50 {_pct(lat, 50):,.0f} ms, p99 {_pct(lat, 99):,.0f} ms "
                  f"({len(lat):,} samples; target p99 <= 500 ms at 100,000 agents)")
        finally:
            _stop(proc)
    return 0
