"""A WFM over loopback speaking the Webex WFO APIs the engine uses, faults included.

It runs in a thread of its own (so a test can drive subprocesses while it
serves) and keeps everything it was sent. Endpoints (``../shared/seeds/002_*``):

- ``POST /api/rest/authorize`` (JSON userId/password) -> session id in the body
  and the ``hazelcast.sessionId`` cookie; ``DELETE`` ends it. Sessions end after
  ``idle_seconds`` without a request, as the real one does after two hours.
- ``POST /api/rest/scheduling/gis/realTimeAgentState?acdServerId=N``: a JSON array
  of acdAgentId, gisStateIdentifier, timestamp, reasonCode.
- ``GET /api/rest/scheduling/agent`` (``activeAgent``): agents with their ``acdId``.
- ``POST /api/rest/scheduling/schedule/for/timespan?fromTimestamp&toTimestamp`` with
  ``{"agentIds": [...]}``: at most 9 days (60 for one agent), 1,000 agents.

Faults: the next N requests answer a status, an outage (every request 503 until
a time), slow answers, a 400 for any batch naming a rejected agent, sessions
expired at will.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from streams.local.loopback import LoopbackServer

DAY_MS = 86_400_000
COOKIE = "hazelcast.sessionId"


@dataclass
class Faults:
    fail_next: list[int] = field(default_factory=list)  # statuses of the next requests
    outage_until: float = 0.0  # time.monotonic(): every state post answers 503 until then
    delay_seconds: float = 0.0  # each state post answers this late
    reject_agents: set[str] = field(default_factory=set)  # a batch naming one: 400


class FakeWfm(LoopbackServer):
    thread_name = "fake-wfm"

    def __init__(self, users: dict[str, str] | None = None, idle_seconds: float = 7200.0,
                 max_agents_per_call: int = 1000, max_days_per_call: int = 9) -> None:
        super().__init__()
        self.users = users or {"rta-api": "wfm-secret-pw"}
        self.idle_seconds = idle_seconds
        self.max_agents, self.max_days = max_agents_per_call, max_days_per_call
        self.faults = Faults()
        self.lock = threading.Lock()
        self.sessions: dict[str, float] = {}
        self.logins = 0
        self.logouts = 0
        self.unauthorized = 0  # requests answered 401
        self.posts: list[tuple[int, str, int]] = []  # (status, acdServerId, items)
        self.received: list[tuple[str, dict[str, Any]]] = []  # accepted (server, item)
        self.agents: list[dict[str, Any]] = []
        self.schedules: dict[int, list[dict[str, Any]]] = {}  # agentId -> activities
        self.time_zones: dict[int, str] = {}
        self.timespan_calls: list[tuple[list[int], int, int]] = []
        self.bodies: list[bytes] = []  # every request body (secrets checks)

    # ------------------------------------------------------------------ life
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/rest/authorize", self._authorize)
        app.router.add_delete("/api/rest/authorize", self._logout)
        app.router.add_post("/api/rest/scheduling/gis/realTimeAgentState", self._states)
        app.router.add_get("/api/rest/scheduling/agent", self._agents)
        app.router.add_post("/api/rest/scheduling/schedule/for/timespan", self._timespan)
        return app


    # ------------------------------------------------------------------ test controls
    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def received_items(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return list(self.received)

    # ------------------------------------------------------------------ handlers
    def _session_ok(self, request: web.Request) -> bool:
        sid = request.cookies.get(COOKIE)
        now = time.monotonic()
        with self.lock:
            last = self.sessions.get(sid or "")
            if last is None or now - last > self.idle_seconds:
                self.sessions.pop(sid or "", None)
                self.unauthorized += 1
                return False
            self.sessions[sid or ""] = now
            return True

    def _fault(self) -> int | None:
        with self.lock:
            if self.faults.fail_next:
                return self.faults.fail_next.pop(0)
        return None

    async def _authorize(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self.lock:
            self.bodies.append(raw)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "JSON body expected"}, status=400)
        if self.users.get(str(body.get("userId"))) != body.get("password"):
            return web.json_response({"error": "invalid credentials"}, status=401)
        sid = secrets.token_hex(16)
        with self.lock:
            self.sessions[sid] = time.monotonic()
            self.logins += 1
        resp = web.json_response({"sessionId": sid, "userId": body["userId"],
                                  "sessionTimeout": "120"})
        resp.set_cookie(COOKIE, sid)
        return resp

    async def _logout(self, request: web.Request) -> web.Response:
        sid = request.cookies.get(COOKIE) or ""
        with self.lock:
            known = self.sessions.pop(sid, None) is not None
            self.logouts += known
        return web.json_response({}, status=200 if known else 401)

    async def _states(self, request: web.Request) -> web.Response:
        raw = await request.read()
        server = request.query.get("acdServerId", "")
        with self.lock:
            self.bodies.append(raw)
        if self.faults.delay_seconds:
            await asyncio.sleep(self.faults.delay_seconds)
        status = self._fault()
        if status is None and time.monotonic() < self.faults.outage_until:
            status = 503
        if status is not None:
            with self.lock:
                self.posts.append((status, server, -1))
            return web.json_response({"error": "injected fault"}, status=status)
        if not self._session_ok(request):
            with self.lock:
                self.posts.append((401, server, -1))
            return web.json_response({"error": "session expired"}, status=401)
        items = orjson.loads(raw)
        if not isinstance(items, list) or not server:
            return web.json_response({"error": "expected a JSON array and acdServerId"},
                                     status=400)
        bad = [it.get("acdAgentId") for it in items
               if str(it.get("acdAgentId")) in self.faults.reject_agents]
        if bad:
            with self.lock:
                self.posts.append((400, server, len(items)))
            return web.json_response({"error": f"unknown acdAgentId {bad[0]}"}, status=400)
        with self.lock:
            self.posts.append((200, server, len(items)))
            self.received.extend((server, it) for it in items)
        return web.json_response({})

    async def _agents(self, request: web.Request) -> web.Response:
        if not self._session_ok(request):
            return web.json_response({"error": "session expired"}, status=401)
        active = request.query.get("activeAgent") == "true"
        with self.lock:
            agents = [a for a in self.agents if a.get("active", True) or not active]
        return web.json_response(agents)

    async def _timespan(self, request: web.Request) -> web.Response:
        if not self._session_ok(request):
            return web.json_response({"error": "session expired"}, status=401)
        status = self._fault()
        if status is not None:
            return web.json_response({"error": "injected fault"}, status=status)
        try:
            start = int(request.query["fromTimestamp"])
            end = int(request.query["toTimestamp"])
            ids = [int(x) for x in orjson.loads(await request.read())["agentIds"]]
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
            return web.json_response({"error": "fromTimestamp, toTimestamp, agentIds"},
                                     status=400)
        limit = (60 if len(ids) == 1 else self.max_days) * DAY_MS
        if end - start > limit or end <= start:
            return web.json_response({"error": f"timespan of {end - start} ms exceeds "
                                      f"{limit} ms"}, status=400)
        if len(ids) > self.max_agents:
            return web.json_response({"error": f"{len(ids)} agents exceed "
                                      f"{self.max_agents}"}, status=400)
        with self.lock:
            self.timespan_calls.append((ids, start, end))
            out = []
            for aid in ids:
                if aid not in self.schedules:
                    continue
                acts = [a for a in self.schedules[aid]
                        if a["startTime"] < end and a["endTime"] > start]
                out.append({"agentId": aid, "employeeID": f"E{aid}",
                            "agentTimeZone": self.time_zones.get(aid, "America/Chicago"),
                            "activities": [dict(a) for a in acts]})
        return web.json_response(out)
