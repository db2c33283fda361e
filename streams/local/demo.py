"""`rta up --demo`: a believable centre fed to the local engine as if it were live.

Yesterday and today of the centre of ``streams.local.centre`` (tenant
``northwind``, America/Chicago; docs/DEMO.md), sent the way real sources send:
state events to the worker's Webex-compatible ingest
(``POST /api/rest/scheduling/gis/realTimeAgentState?acdServerId=N``: the phones
on ACD server 1, the chat platform on 2) and schedules to ``POST /v1/schedules``
(as the WFM would), with the tenant's API key. Everything that arrived before
now is sent at once, in batches (the worker catches up on it, in event time),
and the rest when the wall clock reaches it, so states change, alerts fire and
today's summaries move while you watch.

Its tenant, with the demo credentials the banner of `rta up` names, is in
``demo-tenants.toml`` beside this module: package data, the default tenants
file of `rta up` wherever it runs from (``examples/tenants.toml`` in the
repository links to it). With another tenants file, set ``RTA_DEMO_API_KEY``
to a key of its tenant ``northwind``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from streams.local.centre import Centre, agent_records
from streams.retry import Backoff
from streams.settings import WorkerSettings

TENANT = "northwind"
TIME_ZONE = "America/Chicago"
DEMO_KEY = "northwind-demo-key"  # its hash is in demo-tenants.toml
DEMO_SEED = 7
BATCH = 500  # items per ingest request
STATES_PATH = "/api/rest/scheduling/gis/realTimeAgentState"
SCHEDULES_PATH = "/v1/schedules"

LANES = 4  # requests in flight at once, each identity's events in one of them

#: One record ready to send: (arrival ms, "state"|"schedule", acdServerId of a state
#: event or "", its acdAgentId or "", the JSON item as the ingest takes it).
Item = tuple[int, str, str, str, bytes]


@contextmanager
def demo_tenants_file() -> Iterator[Path]:
    """The path of ``demo-tenants.toml`` while the context lasts (a real file of
    the installed package; a temporary copy if the package is zipped)."""
    with resources.as_file(resources.files("streams.local") / "demo-tenants.toml") as path:
        yield path


def demo_centre(agents: int, now_ms: int, days: int = 2) -> Centre:
    """The centre of the demo: yesterday and today (tenant time) of ``agents`` agents."""
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(TIME_ZONE)).date()
    return Centre(agents=agents, days=days, start=today - timedelta(days=days - 1),
                  tenant=TENANT, time_zone=TIME_ZONE, seed=DEMO_SEED, late_fraction=0.01,
                  duplicate_fraction=0.005)


def ingest_items(spec: Centre) -> list[Item]:
    """The centre's records as the ingest endpoints take them, in arrival order
    (the order of ``streams.local.centre.generate``): a state item without
    ``tenantId`` and ``acdServerId`` (the credential and the query name them), a
    schedule message without ``tenantId``. Kept as bytes: a tenth of the memory
    of the parsed records (2,000 agents: ~900,000 of them)."""
    keyed: list[tuple[int, int, int, Item]] = []
    for n in range(spec.agents):
        for i, (arrival, rec) in enumerate(agent_records(spec, spec.first_agent + n)):
            body = rec["body"]
            if rec["kind"] == "state":
                item = {k: v for k, v in body.items() if k not in ("tenantId", "acdServerId")}
                keyed.append((arrival, n, i, (arrival, "state", body["acdServerId"],
                                              body["acdAgentId"], orjson.dumps(item))))
            else:
                item = {k: v for k, v in body.items() if k != "tenantId"}
                keyed.append((arrival, n, i, (arrival, "schedule", "", "", orjson.dumps(item))))
    keyed.sort(key=lambda x: (x[0], x[1], x[2]))
    return [item for *_, item in keyed]


class DemoError(Exception):
    """The engine refuses the demo (a wrong key): no point in going on."""


class Feeder:
    """Sends :func:`ingest_items` to a worker's HTTP API: ``run`` waits for
    ``/readyz``, sends the backlog (arrived before now) in batches of at most
    ``batch`` items, then each item when the clock reaches its arrival. Batches are
    all-or-nothing: a 503 (or 429, 502, 504, a refused connection, a timeout) is
    tried again with back-off; the same batch sent twice changes nothing (state
    events carry event ids, a schedule message replaces its own window). Per
    request, schedules come first, then each ACD server's state events; each
    identity's events and each agent's schedules keep their order: the state events go
    in ``lanes`` requests at once (a request's time is mostly the wait for the broker's
    acknowledgements), each identity's always in the same lane.

    ``clock`` (epoch ms) and ``sleep`` can be given (tests)."""

    def __init__(self, url: str, api_key: str, items: list[Item], stop: threading.Event, *,
                 batch: int = BATCH, lanes: int = LANES,
                 announce: Callable[[str], None] | None = None,
                 clock: Callable[[], int] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.url, self.items, self.stop, self.batch = url.rstrip("/"), items, stop, batch
        self.lanes = lanes
        self.headers = {"x-api-key": api_key, "Content-Type": "application/json"}
        self.announce = announce or (lambda text: None)
        self.clock = clock or (lambda: int(time.time() * 1000))
        self._sleep = sleep or asyncio.sleep
        self.sent = 0  # items accepted
        self.refused = 0  # items of batches the engine refused (400): a bug of the demo
        self.requests = 0
        self.backlog_seconds: float | None = None
        self._backlog: tuple[int, float] | None = None  # (items, started) while sending it
        self._told = 0.0

    async def _pause(self, seconds: float) -> bool:
        """Wait up to ``seconds`` in short steps; False once told to stop."""
        left = seconds
        while not self.stop.is_set():
            if left <= 0:
                return True
            step = min(0.5, left)
            await self._sleep(step)
            left -= step
        return False

    async def run(self) -> int:
        timeout = aiohttp.ClientTimeout(total=120, connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if not await self._ready(session):
                return self.sent
            started, now = time.monotonic(), self.clock()
            i = self._upto(0, now)
            self._backlog = (i, started)
            if not await self._send(session, self.items[:i]):
                return self.sent
            self._backlog = None
            self.backlog_seconds = time.monotonic() - started
            self.announce(f"demo: sent the {i:,} records that arrived before now in "
                          f"{self.backlog_seconds:.1f} s (tenant {TENANT}, yesterday and "
                          f"today, through the HTTP ingest); the rest arrive as the clock "
                          f"reaches them")
            while i < len(self.items) and not self.stop.is_set():
                now = self.clock()
                j = self._upto(i, now)
                if j == i:
                    wait = (self.items[i][0] - now) / 1000
                    if not await self._pause(min(1.0, max(0.01, wait))):
                        break
                    continue
                if not await self._send(session, self.items[i:j]):
                    break
                i = j
        return self.sent

    def _upto(self, i: int, now: int) -> int:
        """The index after the items from ``i`` on that arrived by ``now``."""
        while i < len(self.items) and self.items[i][0] <= now:
            i += 1
        return i

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        told = False
        while not self.stop.is_set():
            try:
                async with session.get(self.url + "/readyz") as r:
                    if r.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            if not told:
                self.announce(f"demo: waiting for the worker to be ready ({self.url}/readyz)")
                told = True
            await self._pause(0.5)
        return False

    async def _send(self, session: aiohttp.ClientSession, items: list[Item]) -> bool:
        """Schedules first, then the state events, in batches: one lane of requests
        after the other per ACD server and lane (an identity's lane: a hash of its
        id), the lanes at once; False once told to stop."""
        schedules = [data for _, kind, _, _, data in items if kind == "schedule"]
        if not await self._lane(session, [(SCHEDULES_PATH, schedules)]):
            return False
        lanes: list[dict[str, list[bytes]]] = [{} for _ in range(self.lanes)]
        for _, kind, server, ident, data in items:
            if kind == "state":
                lane = lanes[zlib.crc32(ident.encode()) % self.lanes]
                lane.setdefault(server, []).append(data)
        async with asyncio.TaskGroup() as group:  # a DemoError in one cancels the others
            tasks = [group.create_task(self._lane(session, [
                (f"{STATES_PATH}?acdServerId={server}", data) for server, data in lane.items()]))
                for lane in lanes if lane]
        return all(t.result() for t in tasks)

    async def _lane(self, session: aiohttp.ClientSession,
                    requests: list[tuple[str, list[bytes]]]) -> bool:
        for path, group in requests:
            for k in range(0, len(group), self.batch):
                if not await self._post(session, path, group[k:k + self.batch]):
                    return False
        return True

    def _progress(self) -> None:
        """Now and then while a big backlog is sent (2,000 agents: minutes)."""
        if self._backlog is None:
            return
        total, started = self._backlog
        at = time.monotonic()
        if at - max(started, self._told) >= 15:
            self._told = at
            self.announce(f"demo: {self.sent:,} of the {total:,} records that arrived before "
                          f"now sent ({at - started:.0f} s)")

    async def _post(self, session: aiohttp.ClientSession, path: str, chunk: list[bytes]
                    ) -> bool:
        body = b"[" + b",".join(chunk) + b"]"
        backoff = Backoff(0.5, 10.0, jitter="full")
        while not self.stop.is_set():
            retry_after: float | None = None
            try:
                async with session.post(self.url + path, data=body, headers=self.headers) as r:
                    self.requests += 1
                    if r.status == 200:
                        self.sent += len(chunk)
                        self._progress()
                        return True
                    text = (await r.text())[:500]
                    if r.status == 401:
                        raise DemoError(f"the engine refused the demo's API key ({text}); "
                                        f"with your own tenants file, set RTA_DEMO_API_KEY "
                                        f"to a key of tenant {TENANT}")
                    if r.status not in (429, 502, 503, 504):
                        self.refused += len(chunk)
                        self.announce(f"demo: {path} refused {len(chunk)} items: HTTP "
                                      f"{r.status} {text}")
                        return True
                    header = r.headers.get("Retry-After", "")
                    retry_after = float(header) if header.isdigit() else None
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            seconds = backoff.next() if retry_after is None else retry_after
            if not await self._pause(seconds):
                return False
        return False


def start_demo(settings: WorkerSettings, agents: int) -> threading.Event:
    """Feed the demo from a daemon thread to this machine's worker
    (``settings.web_port``); set the returned event to stop it."""
    stop = threading.Event()
    url = f"http://127.0.0.1:{settings.web_port}"
    key = os.environ.get("RTA_DEMO_API_KEY") or DEMO_KEY

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def run() -> None:
        try:
            items = ingest_items(demo_centre(agents, int(time.time() * 1000)))
            asyncio.run(Feeder(url, key, items, stop, announce=say).run())
        except Exception as exc:  # the engine keeps running without its demo
            say(f"demo: stopped: {exc}")

    threading.Thread(target=run, name="rta-demo", daemon=True).start()
    return stop


def send_http(url: str, api_key: str, items: list[Item]) -> int:
    """Send items at once (`rta demo --url`); returns how many were accepted."""
    now = [(0, kind, server, ident, data) for _, kind, server, ident, data in items]
    feeder = Feeder(url, api_key, now, threading.Event())
    return asyncio.run(feeder.run())


def produce_to_kafka(settings: WorkerSettings, records: list[dict[str, Any]]) -> int:
    """Send records to the input topics (`rta demo --broker`)."""
    from streams.kafka import produce_records

    return asyncio.run(produce_records(settings, records))
