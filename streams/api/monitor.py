"""The live RTA monitor: the page, its sign-in, its data and its event stream
(docs/MONITOR.md).

The page and its script are files of the package (``streams/api/static/``),
served as they are. Its data needs a credential of the API (the session cookie,
which the page gets by signing in; an API key header works too) and is that
credential's tenant's only: statuses, today's day summaries and alerts come
from the query views every worker holds, a timeline from the reducer of the
worker owning the agent.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from rta.calendar import DayCalendar
from rta.queries import QueryError, check_date
from rta.rules import COUNTED_CATEGORIES
from streams.api.auth import digest, new_session_id
from streams.api.feed import Subscription, short_summary
from streams.api.ports import Session, Unavailable

if TYPE_CHECKING:
    from streams.api.app import Api

HEARTBEAT_SECONDS = 15.0
TIMELINE_DAYS = 31  # how far back a timeline may be asked for (days kept may be fewer)
WRITE_TIMEOUT = 10.0  # seconds a page may take to read what the stream writes
STATIC = {  # the files the page is made of: name -> content type
    "monitor.html": "text/html; charset=utf-8",
    "monitor.css": "text/css; charset=utf-8",
    "monitor.js": "text/javascript; charset=utf-8",
}
# nothing from elsewhere: no CDN, no inline script, no framing
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_file(name: str) -> bytes:
    return (resources.files("streams.api") / "static" / name).read_bytes()


def secure(request: web.Request) -> bool:
    """Whether the page came over TLS (here, or to the proxy in front): then the
    session cookie is only ever sent over TLS."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def sse(event: str, data: bytes) -> bytes:
    """One server-sent event (the JSON has no line breaks)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class Monitor:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._calendars: dict[str, DayCalendar] = {}
        self.streams = 0  # event streams open on this worker

    def add_routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/", self.root)
        r.add_get("/monitor", self.page)
        r.add_get("/monitor/static/{name}", self.static)
        r.add_post("/monitor/v1/signin", self.signin)
        r.add_post("/monitor/v1/signout", self.signout)
        r.add_get("/monitor/v1/snapshot", self.snapshot)
        r.add_get("/monitor/v1/events", self.events)
        r.add_get("/monitor/v1/agents/{agentId}/timeline", self.timeline)

    # ------------------------------------------------------------------ the page
    async def root(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/monitor"})

    async def page(self, request: web.Request) -> web.Response:
        return self._file("monitor.html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            from streams.api.app import ApiError

            raise ApiError(404, "not_found", f"no file {name!r} here")
        return self._file(name)

    @staticmethod
    def _file(name: str) -> web.Response:
        return web.Response(body=static_file(name), headers={
            "Content-Type": STATIC[name], **SECURITY_HEADERS})

    # ------------------------------------------------------------------ sign-in
    async def signin(self, request: web.Request) -> web.Response:
        """An API key exchanged for a session: the page keeps a cookie it cannot read,
        not the key."""
        from streams.api.app import SESSION_COOKIE, ApiError, json_response

        api = self.api
        if request.content_type != "application/json":
            # a form of another site cannot send JSON without the browser asking first
            raise ApiError(415, "unsupported_media_type", "send the key as JSON: "
                           'Content-Type: application/json, {"apiKey": "..."}')
        body = api._json(await api._body(request))
        key = body.get("apiKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise ApiError(400, "invalid_request", 'the body must be {"apiKey": "..."} '
                           "(or sign in with userId and password: POST /api/rest/authorize)")
        tenant = api.auth.tenant_of_key(key)
        if tenant is None:
            raise ApiError(401, "unauthorized", "invalid API key")
        sid = new_session_id()
        now = api.clock()
        await api.backend.sessions.create(digest(sid), Session(tenant, "api-key", now, now))
        response = json_response({"tenantId": tenant, "userId": "api-key",
                                  "sessionTimeout": str(api.config.session_idle_ms // 60_000)})
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Strict", path="/",
                            secure=secure(request))
        return response

    async def signout(self, request: web.Request) -> web.Response:
        from streams.api.app import SESSION_COOKIE, json_response

        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            session = await self.api.backend.sessions.get(digest(sid))
            if session is not None:
                await self.api.backend.sessions.end(digest(sid))
        response = json_response({"ended": bool(sid)})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ data
    def _calendar(self, tenant: str) -> DayCalendar:
        zone = self.api.backend.tenant_settings(tenant).time_zone
        cal = self._calendars.get(zone)
        if cal is None:
            cal = self._calendars[zone] = DayCalendar(zone)
        return cal

    def _today(self, tenant: str, now: int) -> str:
        cal = self._calendar(tenant)
        return cal.iso(cal.ordinal(now))

    def _snapshot(self, tenant: str) -> bytes:
        """The snapshot's JSON, assembled from the views' JSON as they hold it."""
        now = self.api.clock()
        day = self._today(tenant, now)
        statuses, summaries, alerts = self.api.backend.live(tenant, day)
        settings = self.api.backend.tenant_settings(tenant)
        head = orjson.dumps({
            "tenant": {"id": tenant, "timeZone": settings.time_zone,
                       "alertAfterSeconds": settings.alert_after_seconds,
                       "alertThresholds": {c: settings.alert_threshold_ms(c) // 1000
                                           for c in (*sorted(COUNTED_CATEGORIES), "OFF")}},
            "now": now, "date": day})
        short = [orjson.dumps(short_summary(orjson.loads(s))) for s in summaries]
        return b"".join((head[:-1], b',"agents":[', b",".join(statuses),
                         b'],"summaries":[', b",".join(short),
                         b'],"alerts":[', b",".join(alerts), b"]}"))

    async def snapshot(self, request: web.Request) -> web.Response:
        principal = await self.api.principal(request)
        return web.Response(body=self._snapshot(principal.tenant),
                            content_type="application/json")

    async def timeline(self, request: web.Request) -> web.Response:
        from streams.api.app import ApiError, json_response

        principal = await self.api.principal(request)
        tenant = principal.tenant
        agent = request.match_info["agentId"].strip()
        cal = self._calendar(tenant)
        today = cal.ordinal(self.api.clock())
        day = cal.iso(today)
        if "date" in request.query:
            try:
                day = check_date(request.query["date"])
            except QueryError as exc:
                raise ApiError(400, "invalid_parameter", str(exc)) from None
        ordinal = date.fromisoformat(day).toordinal()
        if not -TIMELINE_DAYS <= ordinal - today <= 1:
            raise ApiError(400, "invalid_parameter", f"date {day}: a timeline is of the "
                           f"last {TIMELINE_DAYS} days, today or tomorrow (today is "
                           f"{cal.iso(today)} in the tenant's time zone)")
        start, end = cal.bounds(ordinal)
        rows = await self.api.backend.activity(tenant, [agent], start, end, view="timeline")
        if not rows:
            raise ApiError(404, "agent_not_found", f"no agent {agent!r}")
        row = rows[0]
        row.update(agentId=str(row["agentId"]), date=day, timeZone=cal.zone.key)
        return json_response(row)

    # ------------------------------------------------------------------ live
    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: a snapshot, then what the views read, per tenant."""
        principal = await self.api.principal(request)
        feed = self.api.backend.feed
        sub = feed.subscribe(principal.tenant)
        try:
            first = self._snapshot(principal.tenant)  # 503 while the views catch up
            response = web.StreamResponse(headers={
                "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no"})
            await response.prepare(request)
            self.streams += 1
            try:
                await self._write(response, b"retry: 1000\n\n" + sse("snapshot", first))
                await self._pump(request, response, sub, principal.session)
            except ConnectionResetError:  # the page went away
                pass
            finally:
                self.streams -= 1
            return response
        finally:
            sub.close()

    async def _pump(self, request: web.Request, response: web.StreamResponse,
                    sub: Subscription, session: str | None) -> None:
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while not sub.closed:
            events = await sub.take(max(0.0, next_beat - time.monotonic()))
            if sub.overflowed:  # too slow to take them: reconnect for a snapshot
                return
            if events:
                await self._write(response, b"".join(sse(e, d) for e, d in events))
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
                if session is not None and not await self._still_signed_in(request):
                    await self._write(response, sse("signedout", orjson.dumps(
                        {"reason": "the session ended or expired; sign in again"})))
                    return
                await self._write(response, sse("heartbeat", orjson.dumps(
                    {"now": self.api.clock()})))
            await asyncio.sleep(0.05)  # coalesce: at most 20 writes a second

    @staticmethod
    async def _write(response: web.StreamResponse, data: bytes) -> None:
        """A page that stops reading (its connection open) is let go, not waited for."""
        try:
            await asyncio.wait_for(response.write(data), WRITE_TIMEOUT)
        except TimeoutError:
            raise ConnectionResetError("the page did not read in time") from None

    async def _still_signed_in(self, request: web.Request) -> bool:
        """The session is alive (a connected page counts as a use of it)."""
        from streams.api.app import SESSION_COOKIE, ApiError

        try:
            await self.api._session(request.cookies.get(SESSION_COOKIE, ""))
        except ApiError:
            return False
        except Unavailable:
            return True  # cannot tell now: the next heartbeat asks again
        return True

