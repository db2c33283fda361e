"""The compose file cannot drift from what works: what docker-compose.yml describes,
started without containers (no Docker engine here).

Apache Kafka comes from the test tooling (the session's broker, in a namespace of this
test's) and PostgreSQL is a throwaway local server given the role and database the
``postgres`` service's environment asks for. Then, as compose would: the ``migrate``
service's own command, and both workers from their own ``command`` and
``environment`` (``${VAR}`` resolved from ``.env.example`` with TENANTS_FILE pointing
at this test's tenants file), as subprocesses ``python -m streams.cli.main ...``. What
only a container has is translated: the hostnames kafka and postgres become the test's
broker and database, the bind mounts' targets their sources, the named volumes
temporary folders, and each worker's API port a free one on 127.0.0.1 (also in its
advertised URL). Both must answer /readyz and the API (a key of the mounted tenants
file), publish rta.adherence equal to `rta replay` of a simulated log, write the same
summaries to the history database, and answer every agent's live status whichever
worker owns it.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from rta.config import TenantsConfig
from rta.queries import activity_detail
from rta.replay import replay_log
from streams.local.broker import free_port
from streams.local.kafka import KafkaBroker
from streams.local.postgres import LocalPostgres
from streams.local.simulate import CentreSpec, generate
from tests.support.brokers import TestBroker
from tests.support.deploy import (
    bind_mounts,
    command,
    compose,
    dashboard_exprs,
    env_file,
    environment,
    named_volumes,
)
from tests.support.http import KEYS, Http, all_pages, tenants_text, wait_ready, without_as_of
from tests.support.processes import stop_gently
from tests.support.results import assert_adherence_becomes, expected
from tests.support.workers import latest, produce, wait_for

pytestmark = pytest.mark.slow

WORKERS = ("worker-1", "worker-2")
# two days back in the tenant's zone: a day the workers keep for the API, whose late
# shifts are not ahead of the clock (tests/streams/api/test_cluster.py)
DAY: date = datetime.now(ZoneInfo("America/Chicago")).date() - timedelta(days=2)


class Translate:
    """What a container sees -> what this machine has."""

    def __init__(self, services: dict[str, Any], broker: TestBroker, pg: LocalPostgres,
                 tmp: Path) -> None:
        self.hosts = {"kafka:19092": broker.bootstrap, "postgres:5432": f"127.0.0.1:{pg.port}"}
        self.tmp = tmp
        self.ports: dict[str, int] = {}
        for name in WORKERS:
            svc = services[name]
            port = free_port()
            self.ports[name] = port
            # the worker's own address as the others reach it: http://HOSTNAME:6066
            container = environment(svc)["RTA_WEB_PORT"]
            self.hosts[f"{svc['hostname']}:{container}"] = f"127.0.0.1:{port}"

    def value(self, v: str, svc: dict[str, Any]) -> str:
        for host, here in self.hosts.items():
            v = v.replace(host, here)
        mounts = bind_mounts(svc)
        if v in mounts:
            return mounts[v]
        volumes = named_volumes(svc)
        if v in volumes:
            path = self.tmp / "volumes" / volumes[v]
            path.mkdir(parents=True, exist_ok=True)
            return str(path)
        return v

    def env(self, name: str, svc: dict[str, Any]) -> dict[str, str]:
        out = {k: self.value(v, svc) for k, v in environment(svc).items()}
        if name in self.ports:
            out["RTA_WEB_PORT"] = str(self.ports[name])
            out["RTA_WEB_BIND"] = "127.0.0.1"  # (a container listens on its own address)
        return out

    def argv(self, svc: dict[str, Any]) -> list[str]:
        return [self.value(a, svc) for a in command(svc)]


def base_env(broker: TestBroker) -> dict[str, str]:
    """This machine's environment without its RTA_* variables, plus the test's
    namespace on the shared broker (topic names and app id)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTA_")}
    return {**env, **broker.env}


def rta(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "streams.cli.main", *argv]


async def _create_role_and_database(pg: LocalPostgres, user: str, password: str,
                                    db: str) -> None:
    """What the postgres image does with POSTGRES_USER, _PASSWORD and _DB."""
    engine = create_async_engine(pg.url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'"))
            await conn.execute(text(f'CREATE DATABASE "{db}" OWNER "{user}"'))
    finally:
        await engine.dispose()


async def _day_summaries(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT tenant_id, agent_id, day, summary FROM day_summaries"))).fetchall()
    finally:
        await engine.dispose()
    out = {}
    for tenant, agent, day, summary in rows:
        s = dict(summary)
        s.pop("asOf", None)
        out[f"{tenant}:{agent}:{day.isoformat()}"] = s
    return out


@pytest.fixture
def postgres() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:  # empty: the migrate service makes the schema
        yield server


def test_what_the_compose_file_describes_runs(kafka_server: KafkaBroker,
                                               postgres: LocalPostgres, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(tenants_text())
    # .env.example's placeholder secret is refused (as it must be): the operator's own
    services = compose({**env_file(), "TENANTS_FILE": str(tenants),
                        "RTA_CLUSTER_SECRET": uuid.uuid4().hex + uuid.uuid4().hex}
                       )["services"]
    broker = TestBroker(kafka_server, f"rta{uuid.uuid4().hex[:8]}")
    for k, v in broker.env.items():  # (the test's own clients: produce, latest)
        monkeypatch.setenv(k, v)
    pg_env = environment(services["postgres"])
    asyncio.run(_create_role_and_database(postgres, pg_env["POSTGRES_USER"],
                                          pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]))
    tr = Translate(services, broker, postgres, tmp_path)
    base = base_env(broker)

    # the one-shot migration, which the workers wait for
    migrate = services["migrate"]
    out = subprocess.run(rta(tr.argv(migrate)), env={**base, **tr.env("migrate", migrate)},
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "history schema: none -> " in out.stderr
    timings = {"migrated": time.monotonic() - started}

    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in WORKERS}
    try:
        for name in WORKERS:  # together, as compose starts them once migrate is done
            svc = services[name]
            env = tr.env(name, svc)
            assert Path(env["RTA_TENANTS_FILE"]) == tenants
            assert env["RTA_DATABASE_URL"].startswith("postgresql+asyncpg://")
            with open(logs[name], "wb") as log:
                procs[name] = subprocess.Popen(
                    rta(tr.argv(svc)), env={**base, **env}, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        apis = {name: Http(f"http://127.0.0.1:{tr.ports[name]}") for name in WORKERS}

        def running() -> bool:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited ({proc.returncode}): "
                                         f"{logs[name].read_text()[-3000:]}")
            return all("rta worker is running" in logs[n].read_text(errors="replace")
                       for n in WORKERS)

        wait_for(running, timeout=120, every=0.5)
        for api in apis.values():
            wait_ready(api, timeout=120)
        for api in apis.values():  # a rebalance may have happened meanwhile
            wait_ready(api, timeout=120)
        timings["ready"] = time.monotonic() - started
        key = KEYS["northwind"]
        for api in apis.values():
            r = api.call("GET", "/v1/agents/1000/status", key=key)
            assert r.status in (200, 404), r.body  # the API answers (no such agent yet)
            assert api.call("GET", "/v1/agents/1000/status", key="wrong-key").status == 401

        # both own some partitions
        parts = [set(api.call("GET", "/readyz").json["checks"]["partitions"]["assigned"])
                 for api in apis.values()]
        assert parts[0] and parts[1] and not parts[0] & parts[1], parts

        # a small simulated log: results equal rta replay, on the topic and in PostgreSQL
        spec = CentreSpec(agents=10, days=1, start=DAY, tenant="northwind",
                          time_zone="America/Chicago", seed=3, multichannel_fraction=0.3)
        records = list(generate(spec))
        produce(broker, records)
        want = expected(records, tenants)
        assert_adherence_becomes(broker, want, timeout=240)
        timings["equal to replay"] = time.monotonic() - started
        url = tr.env("worker-1", services["worker-1"])["RTA_DATABASE_URL"]
        wait_for(lambda: asyncio.run(_day_summaries(url)) == want, timeout=120)

        # every agent's live status from either worker, whichever owns the agent
        statuses = {k: v for k, v in latest(broker, "rta.agent-status").items()
                    if k.startswith("northwind:")}
        agents = {int(k.split(":")[1]) for k in want}
        assert agents and {int(k.split(":")[1]) for k in statuses} == agents

        def answered() -> bool:
            for api in apis.values():
                for agent in agents:
                    r = api.call("GET", f"/v1/agents/{agent}/status", key=key)
                    if r.status != 200 or r.json != statuses[f"northwind:{agent}"]:
                        return False
            return True

        wait_for(answered, timeout=60)

        # the API's adherence and Real-Time Agent States from either worker: the one that
        # does not own an agent asks the other (its advertised URL, the cluster secret)
        day = DAY.isoformat()
        day_want = [want[k] for k in sorted(want, key=lambda k: int(k.split(":")[1]))
                    if k.endswith(day)]
        result = replay_log(records, TenantsConfig.from_toml(tenants.read_text()))
        reducers = {str(r.agent_id): r for r in result.engine.agents.values()}
        a = min(r.eff.times[0] for r in reducers.values())
        b = max(r.eff.times[-1] for r in reducers.values()) + 1
        states = [activity_detail(reducers[k], a, b) for k in sorted(reducers, key=int)]
        path = f"/api/rest/scheduling/realTime/activity/detail?fromTime={a}&toTime={b}"
        for api in apis.values():
            wait_for(lambda h=api: without_as_of(all_pages(h, day, key, size=3)) == day_want,
                     timeout=120)
            wait_for(lambda h=api: h.call("POST", path, {}, key=key).json == states,
                     timeout=60)

        # each worker's /metrics has the worker-side names the dashboard queries
        queried = {n for e in dashboard_exprs() for n in _names(e)
                   if not n.startswith(("rta_forward_", "rta_connector_"))}
        for name, api in apis.items():
            scraped = scraped_names(api.call("GET", "/metrics").body.decode())
            assert queried <= scraped, f"{name}: {sorted(queried - scraped)}"
            metrics = api.call("GET", "/metrics").body.decode()
            assert "rta_ready 1.0" in metrics
            assert 'rta_http_requests_total{method="POST",route="/internal/v1/activity",' \
                   'status="200"}' in metrics, f"{name} was never asked by the other"
        timings["all"] = time.monotonic() - started
        print(f"compose without containers: {timings}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in procs.values():
            stop_gently(proc)


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\brta_[a-z0-9_]+", expr))


def scraped_names(exposition: str) -> set[str]:
    """The metric names in a text exposition: its samples' and its families' (a
    labelled family with no sample yet has only its # TYPE line)."""
    out = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            out.add(name)
            if kind == "histogram":
                out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line.startswith("rta_"):
            out.add(line.split("{")[0].split(" ")[0])
    return out
