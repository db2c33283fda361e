"""Workers as subprocesses on the test's broker (``broker``: tests/support/brokers.py).

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

from streams.kafka import produce_records, read_topic
from streams.local.broker import free_port
from tests.support.brokers import TestBroker

FAST_GROUP = {
    "RTA_BROKER_SESSION_TIMEOUT": "1.5",
    "RTA_BROKER_HEARTBEAT_INTERVAL": "0.3",
    "RTA_BROKER_COMMIT_INTERVAL": "0.5",
    "RTA_EMIT_SECONDS": "0.5",
    "RTA_TICK_SECONDS": "0.1",
}
# Tansu only: it under-reports end offsets after multi-record batches, which can
# make table recovery skip the changelog tail (BROKER.md; detected by
# tests/streams/worker/test_broker_quirks.py): one record per produce batch.
TANSU_WORKAROUNDS = {"RTA_PRODUCER_MAX_BATCH_SIZE": "1"}


def worker_env(broker: TestBroker) -> dict[str, str]:
    """What every test worker runs with on ``broker``."""
    return {**FAST_GROUP, **(TANSU_WORKAROUNDS if broker.kind == "tansu" else {})}


class Worker:
    def __init__(self, broker: TestBroker, tmp: Path, tenants: Path | None, name: str,
                 env: dict[str, str] | None = None, split_stderr: bool = False) -> None:
        self.broker, self.tmp, self.tenants, self.name = broker, tmp, tenants, name
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{name}.log"
        # stderr (the logs) in a file of its own, stdout (the banner) in ``log``
        self.err: Path | None = tmp / f"{name}.err" if split_stderr else None

    def start(self, timeout: float = 60) -> Worker:
        cmd = [sys.executable, "-m", "streams.cli.main", "worker", "--broker", self.broker.url,
               "--data-dir", str(self.tmp / "data" / self.name)]
        if self.tenants:
            cmd += ["--tenants", str(self.tenants)]
        out = open(self.log, "ab")  # noqa: SIM115
        offset = self.log.stat().st_size if self.log.exists() else 0
        port = self.env.get("RTA_WEB_PORT") or str(free_port())
        self.web_port = int(port)
        web = {"RTA_WEB_PORT": port, "RTA_WEB_BIND": "127.0.0.1",
               "RTA_WEB_ADVERTISED_URL": f"http://127.0.0.1:{port}"}
        err: Any = subprocess.STDOUT if self.err is None else open(self.err, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     env={**os.environ, **worker_env(self.broker), **web,
                                          **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "rta worker is running" in self.log.read_text(errors="replace")[offset:]:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.output()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready in {timeout} s: {self.output()[-3000:]}")

    def output(self) -> str:
        """What it wrote (stdout, and stderr when it is a file of its own)."""
        text = self.log.read_text(errors="replace")
        if self.err is not None and self.err.exists():
            text += self.err.read_text(errors="replace")
        return text

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(20)
        self.proc = None


@pytest.fixture
def workers(broker: TestBroker, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def start(tenants: Path | None = None, name: str = "w1",
              env: dict[str, str] | None = None, split_stderr: bool = False) -> Worker:
        w = Worker(broker, tmp_path, tenants, name, env, split_stderr).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill(signal.SIGTERM)


def produce(broker: TestBroker, records: list[Any]) -> int:
    return asyncio.run(produce_records(broker.settings(), records))


def topic_records(broker: TestBroker, topic: str, idle: float = 1.0, committed: bool = False
                  ) -> list[tuple[bytes | None, Any]]:
    """Every record of the engine topic ``topic`` (``rta.alerts``, ... in the test's
    namespace); ``committed``: not those of aborted or open transactions."""
    rows = asyncio.run(read_topic(broker.settings(), broker.topic(topic), idle, committed))
    return [(k, orjson.loads(v) if v is not None else None) for k, v in rows]


def latest(broker: TestBroker, topic: str) -> dict[str, Any]:
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
