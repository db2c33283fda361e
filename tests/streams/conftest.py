"""Real-broker fixtures: a Tansu broker per test, workers as subprocesses.

The worker runs exactly as users run it (`rta worker --broker ...`), with
group timings shortened (BROKER.md: ready in ~3 s instead of ~20 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rta_cli.kafka_tools import produce_records, read_topic
from rta_cli.local_broker import LocalBroker, free_port
from streams.settings import WorkerSettings
from streams.topics import ensure_topics

FAST_GROUP = {
    "RTA_BROKER_SESSION_TIMEOUT": "1.5",
    "RTA_BROKER_HEARTBEAT_INTERVAL": "0.3",
    "RTA_BROKER_COMMIT_INTERVAL": "0.5",
    "RTA_EMIT_SECONDS": "0.5",
    "RTA_TICK_SECONDS": "0.1",
    # Tansu under-reports end offsets after multi-record batches, which can make
    # table recovery skip the changelog tail (BROKER.md): one record per batch.
    "RTA_PRODUCER_MAX_BATCH_SIZE": "1",
}


class Worker:
    def __init__(self, broker: LocalBroker, tmp: Path, tenants: Path | None, name: str,
                 env: dict[str, str] | None = None) -> None:
        self.broker, self.tmp, self.tenants, self.name = broker, tmp, tenants, name
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{name}.log"

    def start(self, timeout: float = 60) -> Worker:
        cmd = [sys.executable, "-m", "rta_cli.main", "worker", "--broker", self.broker.url,
               "--data-dir", str(self.tmp / "data" / self.name)]
        if self.tenants:
            cmd += ["--tenants", str(self.tenants)]
        out = open(self.log, "ab")  # noqa: SIM115
        offset = self.log.stat().st_size if self.log.exists() else 0
        port = self.env.get("RTA_WEB_PORT") or str(free_port())
        self.web_port = int(port)
        web = {"RTA_WEB_PORT": port, "RTA_WEB_BIND": "127.0.0.1",
               "RTA_WEB_ADVERTISED_URL": f"http://127.0.0.1:{port}"}
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     env={**os.environ, **FAST_GROUP, **web, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "rta worker is running" in self.log.read_text(errors="replace")[offset:]:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready in {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(20)
        self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(log=tmp_path / "broker.log") as b:
        settings = WorkerSettings(broker_url=b.url)
        asyncio.run(ensure_topics(settings))
        yield b


@pytest.fixture
def workers(broker: LocalBroker, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def start(tenants: Path | None = None, name: str = "w1",
              env: dict[str, str] | None = None) -> Worker:
        w = Worker(broker, tmp_path, tenants, name, env).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill(signal.SIGTERM)


def produce(broker: LocalBroker, records: list[Any]) -> int:
    return asyncio.run(produce_records(WorkerSettings(broker_url=broker.url), records))


def topic_records(broker: LocalBroker, topic: str, idle: float = 1.0
                  ) -> list[tuple[bytes | None, Any]]:
    rows = asyncio.run(read_topic(WorkerSettings(broker_url=broker.url), topic, idle))
    return [(k, orjson.loads(v) if v is not None else None) for k, v in rows]


def latest(broker: LocalBroker, topic: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in topic_records(broker, topic):
        out[k.decode() if k else ""] = v
    return {k: v for k, v in out.items() if v is not None}


def wait_for(check: Any, timeout: float = 90, every: float = 1.0) -> Any:
    """Poll ``check()`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise TimeoutError(f"condition not met in {timeout} s (last: {str(last)[:500]})")
