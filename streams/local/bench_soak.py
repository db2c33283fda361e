"""``rta bench soak``: a simulated day of N agents through one worker, memory sampled;
then the worker's recovery from its changelogs.

A day of ``--agents`` agents (``streams.local.simulate``: schedules, logins,
calls, breaks, overnight shifts) is produced in ``--chunks`` parts in arrival
order; after each part the worker (`rta worker`, a subprocess, the memory store)
is waited for until it has applied everything so far, and its resident memory
(``VmRSS``), reducer count and applied items are sampled. The day is
compressed: a part is applied as fast as the worker goes. Printed per part:
items applied, agents in memory, RSS, and RSS above the idle worker's (the
baseline measured in the same run, before any input) per agent and per record
applied. A worker keeps each agent's events for the lateness horizon (the
timeline the day summaries and late events need), so memory grows with the
records retained, not with time: the bytes per record must stay flat through the
day (no leak), and an agent costs about its day's records times that.

Then recovery: the worker is stopped (SIGTERM) and a new one started on the
same broker with an empty data directory, which rebuilds its tables from their
changelogs; the time from its start to ``/readyz`` answering ready, less the
first worker's (no state: process start and group join), is the recovery time
for that many agents. (Memory store: everything is read back;
the RocksDB store keeps its files on the volume and reads only what it lacks.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streams.kafka import produce_records
from streams.local.bench_pipeline import _bench_broker, _rss_mib, _stats, _stop
from streams.local.broker import free_port
from streams.local.simulate import CentreSpec, generate


def _start(broker: str, tmp: Path, tenants: Path, name: str,
           extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path, int]:
    log = tmp / f"{name}.log"
    port = free_port()
    env = {**os.environ, "RTA_STATS_SECONDS": "0.5", "RTA_WEB_PORT": str(port),
           "RTA_WEB_BIND": "127.0.0.1", "RTA_WEB_ADVERTISED_URL": f"http://127.0.0.1:{port}",
           **(extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "worker", "--broker", broker,
         "--data-dir", str(tmp / "data" / name), "--tenants", str(tenants)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    return proc, log, port


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _ready(proc: subprocess.Popen[bytes], log: Path, port: int, timeout: float) -> float:
    """Seconds until /readyz answers ready (the process started ``timeout`` ago at most)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status, body = _get(port, "/readyz")
        if status == 200 and orjson.loads(body).get("ready"):
            return time.monotonic() - t0
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited: {log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"the worker was not ready in {timeout:.0f} s")


def _gauge(port: int, name: str) -> float:
    _, body = _get(port, "/metrics")
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def soak(agents: int, chunks: int, broker: str, timeout: float = 1800
         ) -> dict[str, Any]:
    """The figures (also printed): samples and the recovery."""
    spec = CentreSpec(agents=agents, days=1, tenant="soak", seed=5)
    records = list(generate(spec))
    n_states = sum(1 for r in records if r["kind"] == "state")
    print(f"simulated day: {agents:,} agents, {len(records):,} records ({n_states:,} state "
          f"events), in {chunks} parts; broker {broker}", flush=True)
    tenants_text = f'[tenants.soak]\ntime_zone = "{spec.time_zone}"\n'
    out: dict[str, Any] = {"agents": agents, "records": len(records), "samples": []}
    with _bench_broker(tenants_text, broker) as (tmp, tenants, settings):
        proc, log, port = _start(settings.broker_url, tmp, tenants, "w1")
        try:
            out["start_s"] = _ready(proc, log, port, 120)
            time.sleep(2)
            idle = _rss_mib(proc.pid)
            out["idle_mib"] = idle
            print(f"idle worker: {idle:,.0f} MiB, ready {out['start_s']:,.1f} s after its "
                  "start (no state: the baseline of the recovery below)", flush=True)
            print(f"{'part':>4} {'applied':>9} {'agents':>7} {'RSS MiB':>8} "
                  f"{'KiB/agent':>9} {'B/record':>8} {'seconds':>8}", flush=True)
            size = -(-len(records) // chunks)
            t0 = time.monotonic()
            for k in range(chunks):
                part = records[k * size:(k + 1) * size]
                asyncio.run(produce_records(settings, part))
                want = min(len(records), (k + 1) * size)
                deadline = time.monotonic() + timeout
                while (_stats(log) or [(0, 0, 0)])[-1][2] < want:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the worker did not apply part {k + 1}: "
                                           f"{log.read_text()[-3000:]}")
                    time.sleep(0.3)
                time.sleep(1.0)  # its timers (summaries, refresh) settle
                rss, reducers = _rss_mib(proc.pid), _gauge(port, "rta_reducers")
                per = (rss - idle) * 1024 / reducers if reducers else float("nan")
                per_record = (rss - idle) * 1024 * 1024 / want
                sample = {"part": k + 1, "applied": want, "agents": reducers, "rss_mib": rss,
                          "kib_per_agent": per, "bytes_per_record": per_record,
                          "seconds": time.monotonic() - t0}
                out["samples"].append(sample)
                print(f"{k + 1:>4} {want:>9,} {reducers:>7,.0f} {rss:>8,.0f} {per:>9,.1f} "
                      f"{per_record:>8,.0f} {sample['seconds']:>8,.1f}", flush=True)
            out["events_per_s"] = len(records) / (time.monotonic() - t0)
        finally:
            _stop(proc)
        # recovery: a new worker rebuilds the tables from their changelogs
        proc, log, port = _start(settings.broker_url, tmp, tenants, "w2")
        try:
            seconds = _ready(proc, log, port, timeout)
            out["recovery_s"] = seconds
            out["recovered_rss_mib"] = _rss_mib(proc.pid)
            extra = max(0.0, seconds - out["start_s"])
            out["recovery_extra_s"] = extra
            print(f"recovery of {agents:,} agents' tables (empty data directory, memory "
                  f"store): ready after {seconds:,.1f} s, {extra:,.1f} s more than a worker "
                  f"with no state (RSS {out['recovered_rss_mib']:,.0f} MiB); "
                  f"{extra * 10_000 / agents:,.1f} s per 10,000 agents", flush=True)
        finally:
            _stop(proc)
    print(f"catch-up through the whole day: {out['events_per_s']:,.0f} records/s",
          flush=True)
    return out


def bench_soak(agents: int, chunks: int, broker: str) -> int:
    soak(agents, chunks, broker)
    return 0
