"""`rta up` as a newcomer runs it: one command, results, Ctrl-C stops all of it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streams.local.broker import TansuBroker
from tests.support.brokers import TestBroker
from tests.support.http import Http, free_port
from tests.support.processes import stop_gently
from tests.support.workers import latest, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


@contextmanager
def rta_up(tmp_path: Path, *args: str, env: dict[str, str] | None = None
           ) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    """`rta up ARGS` run from the repository: yields it, its output file and the
    broker port once the banner is printed; kills it if the test left it running."""
    out = tmp_path / "up.out"
    if "--web-port" not in args:
        args = (*args, "--web-port", str(free_port()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "up", *args, "--data-dir", str(tmp_path / "var")],
        stdout=open(out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: SIM115
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "RTA_BROKER_SESSION_TIMEOUT": "1.5",
             "RTA_BROKER_HEARTBEAT_INTERVAL": "0.3", **(env or {})})
    try:
        banner = wait_for(lambda: re.search(r"kafka://127\.0\.0\.1:(\d+)", out.read_text())
                          if "rta is up." in out.read_text() else None, timeout=60, every=0.3)
        yield proc, out, int(banner.group(1))
    finally:
        stop_gently(proc)  # the test failed: SIGTERM stops its broker and PostgreSQL too


async def _count(url: str, day: str) -> int:
    from datetime import date

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM day_summaries WHERE day = "
                                              ":d"), {"d": date.fromisoformat(day)}) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["tansu", "kafka"])
def test_up_demo_and_ctrl_c(tmp_path: Path, kind: str) -> None:
    """`rta up` on either local broker (`--local-broker kafka`: Apache Kafka)."""
    with rta_up(tmp_path, "--local-broker", kind, "--no-history") as (proc, out, port):
        banner = out.read_text()
        assert ("Apache Kafka" if kind == "kafka" else "Tansu, in memory") in banner
        url = f"kafka://127.0.0.1:{port}"
        demo = subprocess.run([sys.executable, "-m", "streams.cli.main", "demo", "--broker", url,
                               "--agents", "3"], capture_output=True, timeout=60, check=True)
        assert b"rta tail rta.adherence" in demo.stderr
        broker = TestBroker(TansuBroker(port=port), "rta")  # reads only: any kind
        summaries = wait_for(lambda: latest(broker, "rta.adherence"), timeout=60, every=1)
        assert {v["tenantId"] for v in summaries.values()} == {"northwind"}
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0, out.read_text()[-3000:]
    time.sleep(0.5)
    with socket.socket() as s:  # the broker is gone too
        assert s.connect_ex(("127.0.0.1", port)) != 0
    if kind == "kafka":  # and its throwaway data
        left = [p for p in Path(tempfile.gettempdir()).glob("rta-kafka-*/server.properties")
                if f"127.0.0.1:{port}" in p.read_text()]
        assert left == []


def test_up_with_its_demo_feeds_yesterday_and_today(tmp_path: Path) -> None:
    """`rta up --demo` (what ./scripts/start runs): yesterday's summaries appear at
    once, today's events are never ahead of the clock (nothing dead-lettered)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    api_port = free_port()
    with rta_up(tmp_path, "--demo", "--demo-agents", "4", "--web-port", str(api_port),
                env={"RTA_EMIT_SECONDS": "0.5"}) as (proc, out, port):
        assert "demo: 4 agents of tenant northwind" in out.read_text()
        broker = TestBroker(TansuBroker(port=port), "rta")  # reads only: any kind
        yesterday = (datetime.now(ZoneInfo("America/Chicago")).date()
                     - timedelta(days=1)).isoformat()

        def yesterdays() -> dict[str, object]:
            return {k: v for k, v in latest(broker, "rta.adherence").items()
                    if v["date"] == yesterday}

        summaries = wait_for(lambda: len(yesterdays()) == 4 and yesterdays(), timeout=90)
        assert {v["tenantId"] for v in summaries.values()} == {"northwind"}
        assert all(v["scheduledSeconds"] > 0 for v in summaries.values())
        assert latest(broker, "rta.deadletter") == {}
        # the HTTP API with the demo key the README's curl examples use
        assert f"http://127.0.0.1:{api_port}" in out.read_text()
        api = Http(f"http://127.0.0.1:{api_port}")
        key = {"x-api-key": "northwind-demo-key"}
        rows = wait_for(lambda: (r := api.call(
            "GET", f"/api/rest/scheduling/adherence/agent?date={yesterday}",
            headers=key)).status == 200 and len(r.json) == 4 and r.json, timeout=30)
        assert sorted(r["agentId"] for r in rows) == sorted(
            v["agentId"] for v in yesterdays().values())
        assert api.call("GET", "/v1/agents/1000/status", headers=key).status == 200
        assert api.call("GET", "/v1/agents/1000/status").status == 401
        # and the history, in its throwaway PostgreSQL
        url = re.search(r"history: PostgreSQL, throwaway: (\S+)", out.read_text())
        assert url is not None, out.read_text()
        stored = wait_for(lambda: asyncio.run(_count(url.group(1), yesterday)) == 4 or None,
                          timeout=60)
        assert stored
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(30) == 0, out.read_text()[-3000:]
