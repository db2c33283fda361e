"""An Omni over loopback: the WFM dashboard and the historical login/pause report.

It runs in a thread of its own with its own event loop (like ``fake_wfm``). What it
speaks (``../shared/seeds/000_*``: WFM API, chats-dashboard; ``001_*``: historical
API, the two login flows, activity-history):

- ``x-api-key`` on every request (else 401, counted in ``unauthorized``).
- ``POST /Login/loginApi`` ``{"login", "password"}`` -> ``{"token", "organizations"}``:
  a *contact* token, which the report routes refuse (401).
- ``POST /Login/organization`` ``{"login", "password", "organization"}`` ->
  ``{"token", "organization"}``: a *report* token for that organization (401 bad
  credentials, 404 unknown organization).
- ``GET /ReportsApi/activity-history?report-skip=N&date_ini=..&date_end=..`` with
  ``Authorization: Bearer <report token>`` (none, a contact token or an expired
  one: 401). Dates are the organization's local time, ``YYYY-MM-DD`` (date_end
  then means the whole day, to 23:59:59) or ``YYYY-MM-DD HH:MM:SS``; 400 when
  missing or unparseable. The rows whose ``data_inicio`` lies in [date_ini,
  date_end], sorted by (data_inicio, id); ``report-skip`` is the page index
  (0-based): rows [N*1000, N*1000+1000). ``{"total", "page", "data"}``.
- ``GET /dashboard/chats-dashboard?organization=ID``: what the test set
  (400 without ``organization``, 404 for an unknown one).

Local times. The report writes ``data_inicio``/``data_fim`` as local wall-clock
strings with no offset, and the fake stores and compares them as such (it never
converts: that is the client's job, with ``zoneinfo``). In the repeated hour of a
DST fall-back (America/Chicago, 2026-11-01 01:00:00-01:59:59) such a string names
two instants and the report cannot say which; ``streams.local.acd_sim`` renders no
time inside that hour (it moves such an event to the end of the hour), so every
string it writes is unambiguous. Strings in a spring-forward gap do not exist and
are never written; a ``date_ini``/``date_end`` in one is compared as the string.

Order of the checks: api key (401), an injected fault (``faults.fail_next``,
with ``Retry-After`` when ``faults.retry_after`` is set), the delay, the route.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from streams.local.loopback import LoopbackServer

LOGIN_API = "/Login/loginApi"
LOGIN_ORG = "/Login/organization"
ACTIVITY = "/ReportsApi/activity-history"
DASHBOARD = "/dashboard/chats-dashboard"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


class Breakage(enum.Enum):
    """How a row listed in ``Faults.malformed`` is served."""

    BAD_DATA_INICIO = "bad_data_inicio"  # "data_inicio": "31/12/2026 25:61"
    NO_AGENT = "no_agent"  # the "agent" (e-mail) key is missing
    NOT_AN_OBJECT = "not_an_object"  # the row is the string "corrupt row <id>"


@dataclass
class Faults:
    fail_next: list[int] = field(default_factory=list)  # statuses of the next requests
    retry_after: float | None = None  # Retry-After sent with those, when set
    delay_seconds: float = 0.0  # every request answers this late
    malformed: set[int] = field(default_factory=set)  # row ids served broken
    breakage: dict[int, Breakage] = field(default_factory=dict)  # how (default BAD_DATA_INICIO)


def parse_local(text: str, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` as a naive local time; ValueError else."""
    if len(text) == 10:
        day = datetime.strptime(text, "%Y-%m-%d")
        return day + timedelta(hours=23, minutes=59, seconds=59) if end_of_day else day
    return datetime.strptime(text, LOCAL_FORMAT)


def local_string(ms: int, time_zone: str) -> str:
    """An instant (ms) as the report writes it in ``time_zone`` (seconds, no offset)."""
    return datetime.fromtimestamp(ms // 1000, UTC).astimezone(ZoneInfo(time_zone)) \
        .strftime(LOCAL_FORMAT)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeOmni(LoopbackServer):
    thread_name = "fake-omni"

    def __init__(self, api_key: str = "omni-key", login: str = "rta@acme.example",
                 password: str = "omni-pw",
                 organizations: list[dict[str, str]] | None = None,
                 time_zone: str = "America/Sao_Paulo", page_size: int = 1000) -> None:
        super().__init__()
        self.api_key, self.login, self.password = api_key, login, password
        self.organizations = [dict(o) for o in
                              (organizations or [{"id": "org-1", "name": "Acme"}])]
        self.time_zone = time_zone  # the organizations' local time (documentation, helpers)
        self.page_size = page_size
        self.faults = Faults()
        self.lock = threading.Lock()
        self.rows: dict[str, dict[int, dict[str, Any]]] = {
            o["id"]: {} for o in self.organizations}  # organization -> id -> row
        self.dashboards: dict[str, list[dict[str, Any]]] = {o["id"]: [] for o in
                                                            self.organizations}
        self._next_id = 1
        self.contact_tokens: set[str] = set()
        self.report_tokens: dict[str, str] = {}  # token -> organization id
        self.logins_api = 0
        self.logins_org = 0
        self.requests: Counter[str] = Counter()  # every request by path
        self.unauthorized = 0  # answered 401
        self.queries: list[dict[str, str]] = []  # the query of every activity-history request

    # ------------------------------------------------------------------ life
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post(LOGIN_API, self._login_api)
        app.router.add_post(LOGIN_ORG, self._login_org)
        app.router.add_get(ACTIVITY, self._activity)
        app.router.add_get(DASHBOARD, self._dashboard)
        return app


    # ------------------------------------------------------------------ test controls
    def _org(self, organization: str | None) -> str:
        return organization or self.organizations[0]["id"]

    def add_rows(self, rows: Iterable[dict[str, Any]],
                 organization: str | None = None) -> list[int]:
        """Store activity-history rows (copies) of an organization (default: the first);
        a row without ``id`` gets the next id."""
        org, ids = self._org(organization), []
        with self.lock:
            for row in rows:
                row = dict(row)
                if row.get("id") is None:
                    row["id"] = self._next_id
                rid = int(row["id"])
                self._next_id = max(self._next_id, rid + 1)
                parse_local(str(row["data_inicio"]))  # the fake only stores valid rows
                self.rows[org][rid] = row
                ids.append(rid)
        return ids

    def update_row(self, row_id: int, organization: str | None = None, **fields: Any) -> None:
        """Change a stored row, e.g. ``update_row(7, data_fim="2026-03-07 18:00:00")``."""
        with self.lock:
            row = self.rows[self._org(organization)][row_id]
            row.update(fields)
            parse_local(str(row["data_inicio"]))

    def set_dashboard(self, agents: list[dict[str, Any]], organization: str | None = None
                      ) -> None:
        with self.lock:
            self.dashboards[self._org(organization)] = [dict(a) for a in agents]

    def expire_tokens(self) -> None:
        """Every token issued so far answers 401 from now on."""
        with self.lock:
            self.contact_tokens.clear()
            self.report_tokens.clear()

    # ------------------------------------------------------------------ handlers
    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        with self.lock:
            self.requests[request.path] += 1
            if request.headers.get("x-api-key") != self.api_key:
                self.unauthorized += 1
                denied = True
            else:
                denied = False
            status = self.faults.fail_next.pop(0) if not denied and self.faults.fail_next \
                else None
            retry_after, delay = self.faults.retry_after, self.faults.delay_seconds
        if denied:
            return web.json_response({"message": "invalid x-api-key"}, status=401)
        if delay:
            await asyncio.sleep(delay)
        if status is not None:
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return web.json_response({"message": "injected fault"}, status=status,
                                     headers=headers)
        return await handler(request)

    def _deny(self, message: str) -> web.Response:
        with self.lock:
            self.unauthorized += 1
        return web.json_response({"message": message}, status=401)

    async def _credentials(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    async def _login_api(self, request: web.Request) -> web.Response:
        body = await self._credentials(request)
        if body is None:
            return web.json_response({"message": "JSON body expected"}, status=400)
        if body.get("login") != self.login or body.get("password") != self.password:
            return self._deny("invalid login or password")
        token = "contact-" + secrets.token_hex(16)
        with self.lock:
            self.contact_tokens.add(token)
            self.logins_api += 1
        return web.json_response({"token": token, "organizations": [
            {"id": o["id"], "name": o["name"]} for o in self.organizations]})

    async def _login_org(self, request: web.Request) -> web.Response:
        body = await self._credentials(request)
        if body is None:
            return web.json_response({"message": "JSON body expected"}, status=400)
        if body.get("login") != self.login or body.get("password") != self.password:
            return self._deny("invalid login or password")
        org = next((o for o in self.organizations if o["id"] == body.get("organization")),
                   None)
        if org is None:
            return web.json_response({"message": "organization not found"}, status=404)
        token = "report-" + secrets.token_hex(16)
        with self.lock:
            self.report_tokens[token] = org["id"]
            self.logins_org += 1
        return web.json_response({"token": token, "organization": {"id": org["id"],
                                                                   "name": org["name"]}})

    def _serve_row(self, row: dict[str, Any]) -> Any:
        rid = int(row["id"])
        if rid not in self.faults.malformed:
            return dict(row)
        kind = self.faults.breakage.get(rid, Breakage.BAD_DATA_INICIO)
        if kind is Breakage.NOT_AN_OBJECT:
            return f"corrupt row {rid}"
        out = dict(row)
        if kind is Breakage.BAD_DATA_INICIO:
            out["data_inicio"] = "31/12/2026 25:61"
        else:
            out.pop("agent", None)
        return out

    async def _activity(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            org = self.report_tokens.get(token) if scheme.lower() == "bearer" else None
        if org is None:
            return self._deny("a report token (Login/organization) is required")
        q = request.query
        with self.lock:
            self.queries.append(dict(q))
        try:
            skip = int(q.get("report-skip", "0"))
            if skip < 0:
                raise ValueError
            lo = parse_local(q["date_ini"])
            hi = parse_local(q["date_end"], end_of_day=True)
        except (KeyError, ValueError):
            return web.json_response({"message": "report-skip (a page index >= 0), date_ini "
                                      "and date_end (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS) "
                                      "expected"}, status=400)
        with self.lock:
            found = sorted((parse_local(str(r["data_inicio"])), rid, r)
                           for rid, r in self.rows[org].items()
                           if lo <= parse_local(str(r["data_inicio"])) <= hi)
            page = [self._serve_row(r) for _, _, r in
                    found[skip * self.page_size:(skip + 1) * self.page_size]]
        return web.json_response({"total": len(found), "page": skip, "data": page})

    async def _dashboard(self, request: web.Request) -> web.Response:
        org = request.query.get("organization")
        if not org:
            return web.json_response({"message": "organization is required"}, status=400)
        with self.lock:
            if org not in self.dashboards:
                return web.json_response({"message": "organization not found"}, status=404)
            return web.json_response([dict(a) for a in self.dashboards[org]])
