"""A CCAI Platform over loopback: the manager API the ACD connector polls, faults included.

It runs in a thread of its own with its own event loop (like ``fake_wfm``) and
keeps what it was asked. What it speaks (``../shared/seeds/003_*``: Agents
Current Status, Agent Activity Logs, User Statuses):

- HTTP basic auth on every request: user = the subdomain, password = the API
  token; anything else answers 401 (counted in ``unauthorized``).
- The rate limit, "1 request per second per customer": a request arriving less
  than ``1 / rate_per_second`` s (the server's monotonic clock) after the
  previous *accepted* request answers 429 with ``Retry-After: 1`` (counted in
  ``throttled``); a 429 is not accepted, so it does not push the window on.
  ``accepted_times`` lists the arrival of every accepted request.
- ``GET /manager/api/v1/agent_activity_logs``: ``sort_column=started_at`` and
  ``sort_direction=ASC`` are required (else 400 with a JSON error, as is a
  missing or unparseable ``started_at[from]``); ``started_at[from]`` (ISO-8601
  UTC, records with started_at >= it), ``started_at[to]`` (optional, <=),
  ``page`` (1-based, default 1), ``per`` (default 100, clamped to ``max_per``).
  A JSON array of records sorted by (started_at, id), in the seed's model.
- ``GET /manager/api/v1/user_statuses``: the statuses (default: the seed's 11).
- ``GET /manager/api/v1/agents/current_status``: what the test set.

Order of the checks: auth (401), rate (429), then an accepted request, which
may still answer an injected fault (``faults.fail_next``; it counts against the
rate as the platform counted it) and may answer late (``faults.delay_seconds``).
Records listed in ``faults.malformed`` are served broken (``Breakage``); the
fake filters and sorts on their true values.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from streams.local.loopback import LoopbackServer

PREFIX = "/manager/api/v1"
LOGS = f"{PREFIX}/agent_activity_logs"
STATUSES = f"{PREFIX}/user_statuses"
CURRENT = f"{PREFIX}/agents/current_status"

#: the seed's example answer of User Statuses, the custom "Meal" (wfm_id 45) included
DEFAULT_STATUSES: list[dict[str, Any]] = [
    {"id": 0, "name": "Available", "color": "green", "wfm_id": 11},
    {"id": -1, "name": "Unavailable", "color": "red", "wfm_id": 12},
    {"id": -2, "name": "Break", "color": "yellow", "wfm_id": 29},
    {"id": -3, "name": "Special Task", "color": "pink", "wfm_id": 30},
    {"id": -4, "name": "Meal", "color": "brown", "wfm_id": 31},
    {"id": -5, "name": "Missed Call", "color": "blue_grey", "wfm_id": 32},
    {"id": -6, "name": "Wrap-up", "color": "purple", "wfm_id": 33},
    {"id": -7, "name": "In-call", "color": "light_blue", "wfm_id": 34},
    {"id": -8, "name": "In-chat", "color": "indigo", "wfm_id": 35},
    {"id": -10, "name": "Offline", "color": "grey", "wfm_id": 36},
    {"id": 5, "name": "Meal", "color": "green", "wfm_id": 45},
]


class Breakage(enum.Enum):
    """How a record listed in ``Faults.malformed`` is served."""

    BAD_STARTED_AT = "bad_started_at"  # "started_at": "not-a-time"
    NO_STATUS = "no_status"  # the "status" key is missing
    NULL_STATUS = "null_status"  # "status": null
    NOT_AN_OBJECT = "not_an_object"  # the record is the string "corrupt record <id>"


@dataclass
class Faults:
    fail_next: list[int] = field(default_factory=list)  # statuses of the next accepted requests
    retry_after: float | None = None  # Retry-After sent with those, when set
    delay_seconds: float = 0.0  # every accepted request answers this late
    malformed: set[int] = field(default_factory=set)  # record ids served broken
    breakage: dict[int, Breakage] = field(default_factory=dict)  # how (default BAD_STARTED_AT)


def format_time(ms: int) -> str:
    """Milliseconds since the epoch as the platform writes them: ``2026-03-07T14:00:00.000Z``."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(text: str) -> int:
    """An ISO-8601 time (``Z`` or an offset; naive is taken as UTC) in ms; ValueError else."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeCcai(LoopbackServer):
    thread_name = "fake-ccai"

    def __init__(self, subdomain: str = "acme", token: str = "ccai-secret-token",
                 rate_per_second: float = 1.0, max_per: int = 100) -> None:
        super().__init__()
        self.subdomain, self.token = subdomain, token
        self.rate_per_second = rate_per_second
        self.max_per = max_per
        self.faults = Faults()
        self.lock = threading.Lock()
        self.logs: dict[int, dict[str, Any]] = {}  # id -> record as given
        self._started: dict[int, int] = {}  # id -> started_at in ms
        self._next_id = 1
        self.statuses: list[dict[str, Any]] = [dict(s) for s in DEFAULT_STATUSES]
        self.current: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()  # every request by path
        self.throttled = 0  # answered 429
        self.unauthorized = 0  # answered 401
        self.accepted_times: list[float] = []  # time.monotonic() of accepted arrivals
        self.queries: list[dict[str, str]] = []  # the query of every accepted log request

    # ------------------------------------------------------------------ life
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get(LOGS, self._logs)
        app.router.add_get(STATUSES, self._statuses)
        app.router.add_get(CURRENT, self._current)
        return app


    # ------------------------------------------------------------------ test controls
    def add_logs(self, records: Iterable[dict[str, Any]]) -> list[int]:
        """Store activity log records (copies); one without ``id`` gets the next id."""
        ids = []
        with self.lock:
            for rec in records:
                rec = dict(rec)
                if rec.get("id") is None:
                    rec["id"] = self._next_id
                rid = int(rec["id"])
                self._next_id = max(self._next_id, rid + 1)
                self._started[rid] = parse_time(str(rec["started_at"]))
                self.logs[rid] = rec
                ids.append(rid)
        return ids

    def update_log(self, log_id: int, **fields: Any) -> None:
        """Change a stored record, e.g. ``update_log(7, ended_at=..., duration=...)``."""
        with self.lock:
            rec = self.logs[log_id]
            rec.update(fields)
            self._started[log_id] = parse_time(str(rec["started_at"]))

    def set_current(self, current: list[dict[str, Any]]) -> None:
        with self.lock:
            self.current = [dict(c) for c in current]

    def set_statuses(self, statuses: list[dict[str, Any]]) -> None:
        with self.lock:
            self.statuses = [dict(s) for s in statuses]

    # ------------------------------------------------------------------ handlers
    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.subdomain and password == self.token

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        with self.lock:
            self.requests[request.path] += 1
        if not self._authorized(request):
            with self.lock:
                self.unauthorized += 1
            return web.json_response({"error": "unauthorized"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="api"'})
        with self.lock:
            last = self.accepted_times[-1] if self.accepted_times else None
            if last is not None and arrived - last < 1.0 / self.rate_per_second:
                self.throttled += 1
                throttled = True
            else:
                self.accepted_times.append(arrived)
                throttled = False
            status = self.faults.fail_next.pop(0) if not throttled and self.faults.fail_next \
                else None
            retry_after, delay = self.faults.retry_after, self.faults.delay_seconds
        if throttled:
            return web.json_response({"error": "rate limit exceeded: 1 request per second"},
                                     status=429, headers={"Retry-After": "1"})
        if delay:
            await asyncio.sleep(delay)
        if status is not None:
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return web.json_response({"error": "injected fault"}, status=status, headers=headers)
        return await handler(request)

    def _render(self, rec: dict[str, Any]) -> Any:
        rid = int(rec["id"])
        if rid not in self.faults.malformed:
            return dict(rec)
        kind = self.faults.breakage.get(rid, Breakage.BAD_STARTED_AT)
        if kind is Breakage.NOT_AN_OBJECT:
            return f"corrupt record {rid}"
        out = dict(rec)
        if kind is Breakage.BAD_STARTED_AT:
            out["started_at"] = "not-a-time"
        elif kind is Breakage.NO_STATUS:
            out.pop("status", None)
        else:
            out["status"] = None
        return out

    async def _logs(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            self.queries.append(dict(q))
        if q.get("sort_column") != "started_at" or q.get("sort_direction") != "ASC":
            return web.json_response({"error": "sort_column=started_at and sort_direction=ASC "
                                      "are required"}, status=400)
        try:
            lo = parse_time(q["started_at[from]"])
            hi = parse_time(q["started_at[to]"]) if "started_at[to]" in q else None
        except (KeyError, ValueError):
            return web.json_response({"error": "started_at[from] (and started_at[to]) must be "
                                      "ISO-8601 times in UTC"}, status=400)
        try:
            page = int(q.get("page", "1"))
            per = int(q.get("per", "100"))
            if page < 1 or per < 1:
                raise ValueError
        except ValueError:
            return web.json_response({"error": "page and per must be positive integers"},
                                     status=400)
        per = min(per, self.max_per)
        with self.lock:
            ids = sorted((t, rid) for rid, t in self._started.items()
                         if t >= lo and (hi is None or t <= hi))
            chosen = ids[(page - 1) * per:page * per]
            out = [self._render(self.logs[rid]) for _, rid in chosen]
        return web.json_response(out)

    async def _statuses(self, request: web.Request) -> web.Response:
        with self.lock:
            return web.json_response([dict(s) for s in self.statuses])

    async def _current(self, request: web.Request) -> web.Response:
        with self.lock:
            return web.json_response([dict(c) for c in self.current])
