"""The HTTP API against a running worker on a real broker.

One broker and worker per test module (starting them costs seconds); tests
use their own agents or tenants so they do not disturb one another.
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.api.auth import hash_api_key, hash_password
from streams.local.broker import free_port
from tests.support.brokers import DEFAULT_KIND, TestBroker, open_test_broker
from tests.support.workers import Worker, wait_for

KEYS = {"northwind": "nw-key-0123456789abcdef", "contoso": "co-key-fedcba9876543210"}
PASSWORDS = {"northwind": ("nw-sup", "nw-secret-pass"), "contoso": ("co-sup", "co-secret-pass")}
SALT = b"fixed-test-salt!"


def tenants_text(alert_after: int = 2) -> str:
    out = []
    for tenant, zone in (("northwind", "America/Chicago"), ("contoso", "Europe/Berlin")):
        user, password = PASSWORDS[tenant]
        out.append(f'[tenants.{tenant}]\ntime_zone = "{zone}"\n'
                   f"alert_after_seconds = {alert_after}\n"
                   f'api_keys = ["{hash_api_key(KEYS[tenant])}"]\n'
                   f'users = [{{ user_id = "{user}", password = '
                   f'"{hash_password(password, SALT, 1000)}" }}]\n')
    return "\n".join(out)


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Http:
    base: str

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None,
             timeout: float = 30) -> Reply:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["x-api-key"] = key
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, exc.read())


@dataclass
class Service:
    broker: TestBroker
    workers: list[Worker]
    http: list[Http]
    tenants: Path

    @property
    def api(self) -> Http:
        return self.http[0]


def start_worker(broker: TestBroker, tmp: Path, tenants: Path, name: str,
                 env: dict[str, str] | None = None) -> tuple[Worker, Http]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    w = Worker(broker, tmp, tenants, name, {
        "RTA_WEB_PORT": str(port), "RTA_WEB_BIND": "127.0.0.1",
        "RTA_WEB_ADVERTISED_URL": url, **(env or {})}).start()
    http = Http(url)
    wait_ready(http)
    return w, http


def wait_ready(http: Http, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = http.call("GET", "/readyz", timeout=5)
            if last.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{http.base} not ready: {last and last.body!r}")


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Service]:
    """A broker and ``WORKERS`` workers (module attribute, default 1) with the
    module's ``WORKER_ENV`` settings."""
    tmp = tmp_path_factory.mktemp("api")
    tenants = tmp / "tenants.toml"
    tenants.write_text(tenants_text())
    env = {"RTA_SESSION_IDLE_SECONDS": "3", **getattr(request.module, "WORKER_ENV", {})}
    with pytest.MonkeyPatch.context() as mp, open_test_broker(
            DEFAULT_KIND, lambda: request.getfixturevalue("kafka_server"), tmp, mp) as broker:
        started: list[tuple[Worker, Http]] = []
        try:
            for i in range(getattr(request.module, "WORKERS", 1)):
                started.append(start_worker(broker, tmp, tenants, f"w{i + 1}", env))
            for _, http in started:  # a rebalance may have happened meanwhile
                wait_ready(http)
            yield Service(broker, [w for w, _ in started], [h for _, h in started], tenants)
        finally:
            for w, _ in started:
                w.kill(signal.SIGTERM)


def wait_until(check: Any, timeout: float = 60, every: float = 0.3) -> Any:
    return wait_for(check, timeout, every)


def send_log(api: Http, records: list[dict[str, Any]], key: str) -> int:
    """Send an event log through the ingest endpoints, in order, in batches."""
    sent = 0
    batch: list[dict[str, Any]] = []
    kind = server = None

    def flush() -> None:
        nonlocal sent, batch
        if not batch:
            return
        if kind == "state":
            items = [{k: v for k, v in b.items() if k not in ("tenantId", "acdServerId")}
                     for b in batch]
            r = api.call("POST", f"/api/rest/scheduling/gis/realTimeAgentState?acdServerId="
                                 f"{server}", items, key=key)
        else:
            r = api.call("POST", "/v1/schedules", batch, key=key)
        assert r.status == 200, r.body
        assert r.json == {"accepted": len(batch)}
        sent += len(batch)
        batch = []

    for rec in records:
        body = rec["body"]
        this_server = body.get("acdServerId", "1") if rec["kind"] == "state" else None
        if rec["kind"] != kind or this_server != server or len(batch) >= 300:
            flush()
            kind, server = rec["kind"], this_server
        batch.append(body)
    flush()
    return sent


def all_pages(api: Http, day: str, key: str, size: int = 200) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}"
                            f"&pageSize={size}&pageNumber={number}", key=key)
        assert r.status == 200, r.body
        out += r.json
        if len(r.json) < size:
            return out
        number += 1


def without_as_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "asOf"} for r in rows]
