"""The HTTP API on an in-memory backend: tests of what the HTTP layer alone decides
(credentials, tenant isolation, errors, limits) without a broker or a worker.

``FakeBackend`` implements ``streams.api.ports.Backend`` (and ``FakeSessions`` its
``SessionStore``):

- tenant settings come from a tenants file's text (``rta.config.TenantsConfig``),
- what ``publish_states`` and ``publish_schedules`` are given is kept in
  ``states`` and ``schedules`` (what would have reached the topics),
- ``status``, ``summaries`` and ``activity`` answer from ``statuses``, ``days`` and
  ``activities``, which a test fills (``activity`` with view "timeline" from
  ``timelines``); ``live`` (the monitor's snapshot) from ``statuses``, ``days`` and
  ``alerts``, and ``feed`` is a real ``LiveFeed`` a test publishes to,
- it is always ready; ``engine_metrics`` is a small fixed list; ``cluster_signature``
  is an HMAC of the body, as the worker's,
- ``fail_next(exc)``: the next call that reads or writes raises ``exc`` (an
  ``Unavailable`` for a 503, anything else for a 500); ``sessions.fail_next(exc)`` the
  same for the next session lookup or creation.

The ``fake_service`` fixture (module scope, like ``service`` in ``tests/support/http.py``)
serves ``streams.api.app.Api`` on it, on a free local port in a thread of its own, so
the tests use the same ``Http`` client as against a worker. It is built as
``streams.api.backend.api_service`` builds it, with the settings the ``service``
fixture gives its workers: ``RTA_SESSION_IDLE_SECONDS=3`` and the module's
``WORKER_ENV`` (``RTA_API_MAX_BODY_BYTES``, ``RTA_API_MAX_BATCH_ITEMS``, ...), read
through ``WorkerSettings``. Its clock is the wall clock plus ``clock.advance(...)``,
so a test can let a session go idle without waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from rta.config import TenantsConfig, TenantSettings
from rta.models import ScheduleMessage, StateEvent
from rta.summary import agent_sort_key
from streams.api.app import Api, ApiConfig
from streams.api.auth import Authenticator
from streams.api.feed import LiveFeed
from streams.api.ports import Session
from streams.local.loopback import LoopbackServer
from streams.metrics import Figure
from streams.settings import WorkerSettings
from tests.support.http import Http, tenants_text

PARTITIONS = 4  # what local_activity says it answered for


class Failing:
    """``fail_next(exc)``: the next call that reads or writes raises ``exc``."""

    _fail: BaseException | None = None

    def fail_next(self, exc: BaseException) -> None:
        """The next call that reads or writes raises ``exc``."""
        self._fail = exc

    def _maybe_fail(self) -> None:
        exc, self._fail = self._fail, None
        if exc is not None:
            raise exc


class FakeSessions(Failing):
    """Sessions in memory, keyed as the API gives them (the digest of the session id).
    ``fail_next(exc)``: the next call raises ``exc`` (an ``Unavailable`` for a 503)."""

    def __init__(self) -> None:
        self.live: dict[str, Session] = {}
        self.ended: set[str] = set()
        self.created: list[str] = []  # every key a session was stored under, in order

    async def get(self, key: str) -> Session | None:
        self._maybe_fail()
        return self.live.get(key)

    async def create(self, key: str, session: Session) -> None:
        self._maybe_fail()
        self.created.append(key)
        self.live[key] = session

    async def touch(self, key: str, now: int) -> None:
        found = self.live.get(key)
        if found is not None:  # an ended session stays ended
            self.live[key] = dataclasses.replace(found, last_seen=max(found.last_seen, now))

    async def end(self, key: str) -> None:
        self.live.pop(key, None)
        self.ended.add(key)


class FakeBackend(Failing):
    def __init__(self, tenants_toml: str, default_time_zone: str = "UTC",
                 cluster_secret: bytes | None = None) -> None:
        self.tenants = TenantsConfig.from_toml(tenants_toml, default_time_zone)
        self._sessions = FakeSessions()
        self._secret = cluster_secret if cluster_secret is not None else secrets.token_bytes(32)
        self.lock = threading.Lock()
        # written (what reached "the topics")
        self.states: list[StateEvent] = []
        self.schedules: list[tuple[ScheduleMessage, dict[str, Any]]] = []
        # read (filled by the test)
        self.statuses: dict[tuple[str, str], dict[str, Any]] = {}  # (tenant, agent id)
        self.days: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (tenant, date)
        self.oldest_day = "0000-01-01"  # dates before it are not kept: summaries() is None
        self.activities: dict[str, list[dict[str, Any]]] = {}  # tenant -> rows ("agentId")
        self.activity_calls: list[tuple[str, list[str] | None, int, int]] = []
        self.timelines: dict[str, list[dict[str, Any]]] = {}  # tenant -> rows ("agentId")
        self.alerts: dict[str, list[dict[str, Any]]] = {}  # tenant -> alert records
        self._feed = LiveFeed()

    @property
    def feed(self) -> LiveFeed:
        return self._feed

    def live(self, tenant: str, date: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
        self._maybe_fail()
        return ([orjson.dumps(s) for (t, _), s in self.statuses.items() if t == tenant],
                [orjson.dumps(s) for s in self.days.get((tenant, date), {}).values()],
                [orjson.dumps(a) for a in self.alerts.get(tenant, [])])

    @property
    def sessions(self) -> FakeSessions:
        return self._sessions

    def tenant_settings(self, tenant: str) -> TenantSettings:
        return self.tenants.get(tenant)

    # ------------------------------------------------------------------ writes
    async def publish_states(self, events: list[StateEvent]) -> None:
        self._maybe_fail()
        with self.lock:
            self.states.extend(events)

    async def publish_schedules(self, messages: list[tuple[ScheduleMessage, dict[str, Any]]]
                                ) -> None:
        self._maybe_fail()
        with self.lock:
            self.schedules.extend(messages)

    # ------------------------------------------------------------------ reads
    def status(self, tenant: str, agent_id: str) -> dict[str, Any] | None:
        self._maybe_fail()
        return self.statuses.get((tenant, agent_id))

    async def summaries(self, tenant: str, date: str
                        ) -> tuple[dict[str, bytes], list[str]] | None:
        self._maybe_fail()
        if date < self.oldest_day:
            return None
        by_agent = {a: orjson.dumps(s) for a, s in self.days.get((tenant, date), {}).items()}
        return by_agent, sorted(by_agent, key=agent_sort_key)

    async def activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                       to_ts: int, view: str = "rtas") -> list[dict[str, Any]]:
        rows, _ = await self.local_activity(tenant, agent_ids, from_ts, to_ts, view)
        return rows

    async def local_activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                             to_ts: int, view: str = "rtas"
                             ) -> tuple[list[dict[str, Any]], list[int]]:
        self._maybe_fail()
        self.activity_calls.append((tenant, agent_ids, from_ts, to_ts))
        kept = self.timelines if view == "timeline" else self.activities
        rows = [dict(r) for r in kept.get(tenant, [])
                if agent_ids is None or str(r["agentId"]) in agent_ids]
        return rows, list(range(PARTITIONS))

    def cluster_signature(self, body: bytes) -> str:
        return hmac.new(self._secret, body, "sha256").hexdigest()

    # ------------------------------------------------------------------ operations
    def health(self) -> dict[str, Any]:
        return {"ready": True, "checks": {"fake": {"ok": True}}}

    def engine_metrics(self) -> list[Figure]:
        return [("rta_routed_total", "counter", "input state events routed",
                 float(len(self.states))),
                ("rta_ready", "gauge", "1 when /readyz passes", 1.0)]


@dataclass
class Clock:
    """Epoch milliseconds: the wall clock, plus what the test advanced it by."""

    offset_ms: int = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


@dataclass
class FakeService(LoopbackServer):
    """``Api`` served on a ``FakeBackend`` in a thread of its own."""

    thread_name = "fake-api"

    backend: FakeBackend
    config: ApiConfig
    clock: Clock = field(default_factory=Clock)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def api(self) -> Http:
        return Http(f"http://127.0.0.1:{self.port}")

    def make_app(self) -> web.Application:  # as streams.api.backend.api_service serves it
        api = Api(self.backend, Authenticator(self.backend.tenants), self.config, self.clock)
        return api.make_app()


def api_config(env: dict[str, str]) -> ApiConfig:
    """The API's settings for ``RTA_*`` variables, as ``api_service`` reads them."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        settings = WorkerSettings()
    return ApiConfig(settings.api_max_body_bytes, settings.api_max_batch_items,
                     settings.session_idle_seconds, settings.max_message_bytes)


@pytest.fixture(scope="module")
def fake_service(request: pytest.FixtureRequest) -> Iterator[FakeService]:
    """The HTTP API on a ``FakeBackend`` with the tenants of ``tenants_text()`` and the
    ``service`` fixture's settings (idle timeout 3 s, the module's ``WORKER_ENV``)."""
    env = {"RTA_SESSION_IDLE_SECONDS": "3", **getattr(request.module, "WORKER_ENV", {})}
    served = FakeService(FakeBackend(tenants_text()), api_config(env)).start()
    try:
        yield served
    finally:
        served.stop()
