"""The HTTP API (aiohttp): Webex-compatible ingest and queries, sessions, health.

Every request but the health, metrics and OpenAPI ones and the login carries a
credential (API key header, Bearer token or the Webex session cookie) and sees
its own tenant only: the tenant always comes from the credential, never from
the request. Errors have one shape::

    {"error": {"status": 400, "code": "invalid_batch", "message": "...", "items": [...]}}
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_exceptions import HTTPException
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from rta.ingest import BatchError, ItemProblems, validate_schedules, validate_states
from rta.queries import (
    QueryError,
    check_date,
    check_page,
    check_range,
    page,
    sort_by_agent,
)
from streams.api.auth import Authenticator, LoginError, Principal, digest, new_session_id
from streams.api.monitor import Monitor, secure
from streams.api.openapi import openapi_document
from streams.api.ports import VIEWS, Backend, Session, Unavailable
from streams.metrics import CONTENT_TYPE, Figures, histogram, new_registry

log = logging.getLogger("rta.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE = "hazelcast.sessionId"
CREDENTIAL_FIELDS = {"userId", "password", "locale", "language", "tenantId"}
# what aiohttp raises on a malformed multipart or form body
MALFORMED = (ValueError, AssertionError, UnicodeDecodeError, RuntimeError, LookupError,
             HttpProcessingError, zlib.error)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # text that is not valid UTF-8 (echoed from a request): escape it
        return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace")


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"status": status, "code": code, "message": message, **extra}}
    headers = {"WWW-Authenticate": 'Bearer realm="rta"'} if status == 401 else None
    return web.Response(status=status, body=dumps(body), content_type="application/json",
                        headers=headers)


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(value), content_type="application/json")


class ApiConfig:
    def __init__(self, max_body_bytes: int, max_batch_items: int, session_idle_seconds: int,
                 max_message_bytes: int = 1_000_000) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_message_bytes = max_message_bytes  # one record on the broker
        self.max_batch_items = max_batch_items
        self.session_idle_ms = session_idle_seconds * 1000


class Api:
    def __init__(self, backend: Backend, auth: Authenticator, config: ApiConfig,
                 clock: Callable[[], int], registry: CollectorRegistry | None = None) -> None:
        self.backend, self.auth, self.config, self.clock = backend, auth, config, clock
        self.loop_lag = 0.0
        # the worker process's registry (streams.metrics), served at /metrics
        self.registry = registry = registry if registry is not None else new_registry()
        self.requests = Counter("rta_http_requests_total",
                                "HTTP requests by route template, method and status",
                                ("method", "route", "status"), registry=registry)
        self.latency = histogram("rta_http_request_duration_seconds",
                                 "HTTP request duration by route template", ("route",),
                                 registry)
        self.accepted = Counter("rta_http_ingested_total",
                                "items accepted by the ingest endpoints (kind=state|schedule)",
                                ("kind",), registry=registry)
        self.rejected = Counter("rta_http_rejected_batches_total",
                                "ingest batches rejected as a whole (kind=state|schedule)",
                                ("kind",), registry=registry)
        Gauge("rta_event_loop_lag_seconds",
              "how late the event loop wakes up (sampled every 0.25 s)",
              registry=registry).set_function(lambda: self.loop_lag)
        registry.register(Figures(backend.engine_metrics))
        self.monitor = Monitor(self)
        Gauge("rta_monitor_streams", "monitor pages connected to this worker (event streams)",
              registry=registry).set_function(lambda: self.monitor.streams)
        self._lag_task: asyncio.Task[None] | None = None
        self._hashing = asyncio.Semaphore(2)
        self._memo_key = secrets.token_bytes(32)
        self._logins: dict[str, tuple[float, tuple[str, str]]] = {}

    # ------------------------------------------------------------------ plumbing
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware],
                              client_max_size=self.config.max_body_bytes)
        r = app.router
        r.add_post("/api/rest/scheduling/gis/realTimeAgentState", self.ingest_states)
        r.add_post("/v1/schedules", self.ingest_schedules)
        r.add_get("/api/rest/scheduling/adherence/agent", self.adherence)
        r.add_post("/api/rest/scheduling/realTime/activity/detail", self.activity_detail)
        r.add_get("/v1/agents/{agentId}/status", self.agent_status)
        r.add_post("/api/rest/authorize", self.login)
        r.add_delete("/api/rest/authorize", self.logout)
        r.add_post("/internal/v1/activity", self.internal_activity)
        r.add_get("/livez", self.livez)
        r.add_get("/readyz", self.readyz)
        r.add_get("/metrics", self.metrics)
        r.add_get("/openapi.json", self.openapi)
        self.monitor.add_routes(r)
        app.on_startup.append(self._start_lag_monitor)
        app.on_cleanup.append(self._stop_lag_monitor)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "unmatched"
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message, **exc.extra)
        except HTTPException as exc:  # aiohttp's own: 404, 405, 413 ...
            code = {404: "not_found", 405: "method_not_allowed",
                    413: "body_too_large"}.get(exc.status, "http_error")
            message = exc.reason
            if exc.status == 413:
                message = (f"the request body exceeds the limit of "
                           f"{self.config.max_body_bytes} bytes")
            allow = exc.headers.get("Allow")
            if exc.status == 405 and allow is not None:  # RFC 9110: a 405 names the methods
                message = f"{request.method} is not allowed here; allowed: {allow}"
            response = error_response(exc.status, code, message)
            if allow is not None:
                response.headers["Allow"] = allow
        except Unavailable as exc:
            response = error_response(503, "unavailable", str(exc))
            response.headers["Retry-After"] = "1"
        except asyncio.CancelledError:
            raise
        except Exception:
            # the traceback names code, not data: no credential reaches the log
            log.exception("HTTP %s %s failed", request.method, template)
            response = error_response(500, "internal_error", "internal error (logged)")
        self.requests.labels(method=request.method, route=template,
                             status=str(response.status)).inc()
        self.latency.labels(route=template).observe(time.perf_counter() - started)
        return response

    async def _start_lag_monitor(self, app: web.Application) -> None:
        async def watch() -> None:
            loop = asyncio.get_running_loop()
            while True:
                t = loop.time()
                await asyncio.sleep(0.25)
                self.loop_lag = max(0.0, loop.time() - t - 0.25)
        self._lag_task = asyncio.create_task(watch())

    async def _stop_lag_monitor(self, app: web.Application) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()

    # ------------------------------------------------------------------ credentials
    async def principal(self, request: web.Request,
                        form: dict[str, str] | None = None) -> Principal:
        key = request.headers.get("x-api-key")
        authz = request.headers.get("Authorization", "")
        if key is None and authz[:7].lower() == "bearer ":
            key = authz[7:].strip()
        if key is not None:
            tenant = self.auth.tenant_of_key(key)
            if tenant is None:
                raise ApiError(401, "unauthorized", "invalid API key")
            return Principal(tenant, "api-key")
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            return await self._session(sid)
        if form and "userId" in form:  # Webex documents credentials in the multipart body
            if not form["userId"] or "password" not in form:
                raise ApiError(401, "unauthorized", "the userId and password parts are "
                               "both needed to log in with the body")
            tenant, user = await self._login(form)
            return Principal(tenant, "form", user)
        raise ApiError(401, "unauthorized", "credentials required: x-api-key header, "
                       "Authorization: Bearer <key>, or the hazelcast.sessionId cookie "
                       "from POST /api/rest/authorize")

    async def _session(self, sid: str) -> Principal:
        key = digest(sid)
        session = await self.backend.sessions.get(key)
        if session is None:
            raise ApiError(401, "unauthorized", "session unknown or ended; log in again "
                           "with POST /api/rest/authorize")
        now = self.clock()
        if now - session.last_seen > self.config.session_idle_ms:
            await self.backend.sessions.end(key)
            raise ApiError(401, "session_expired", "session expired after "
                           f"{self.config.session_idle_ms // 60_000} minutes of inactivity; "
                           "log in again")
        await self.backend.sessions.touch(key, now)
        return Principal(session.tenant, "session", session.user, key)

    async def _login(self, fields: dict[str, Any]) -> tuple[str, str]:
        user, password = fields.get("userId"), fields.get("password")
        tenant = fields.get("tenantId")
        if not isinstance(user, str) or not isinstance(password, str) or not user:
            raise ApiError(400, "invalid_request", "userId and password (strings) are required")
        if tenant is not None and (isinstance(tenant, bool) or not isinstance(tenant, str | int)):
            raise ApiError(400, "invalid_request", "tenantId must be a string")
        tenant_id = None if tenant is None else str(tenant)
        # a connector sending credentials with every batch pays the hash once a minute
        memo = hmac.new(self._memo_key, "\0".join((user, password, tenant_id or "")).encode(
            "utf-8", "surrogatepass"), "sha256").hexdigest()
        now = time.monotonic()
        hit = self._logins.get(memo)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            async with self._hashing:  # password hashing takes at most two threads
                found = await asyncio.to_thread(self.auth.login, user, password, tenant_id)
        except LoginError as exc:
            code = "unauthorized" if exc.status == 401 else "invalid_request"
            raise ApiError(exc.status, code, str(exc)) from None
        if len(self._logins) > 10_000:
            self._logins = {k: v for k, v in self._logins.items() if v[0] > now}
        self._logins[memo] = (now + 60.0, found)
        return found

    # ------------------------------------------------------------------ bodies
    async def _body(self, request: web.Request) -> bytes:
        if (request.content_length or 0) > self.config.max_body_bytes:
            raise ApiError(413, "body_too_large", f"the request body exceeds the limit of "
                           f"{self.config.max_body_bytes} bytes")
        return await request.read()

    @staticmethod
    def _json(raw: bytes, what: str = "the body") -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"{what} is not valid JSON: {exc}") from None

    async def _multipart(self, request: web.Request) -> tuple[dict[str, str], Any]:
        """Webex's multipart/form-data: credential fields, and one part with the JSON."""
        fields: dict[str, str] = {}
        data: list[tuple[str, bytes]] = []
        size = 0
        limit = self.config.max_body_bytes
        try:
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, "invalid_multipart", "nested multipart bodies are "
                                   "not supported")
                chunks = []
                while chunk := await part.read_chunk():  # counted as it comes
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(413, "body_too_large", f"the request body exceeds the "
                                       f"limit of {limit} bytes")
                    chunks.append(chunk)
                raw = part.decode(b"".join(chunks))
                name = part.name or ""
                if name in CREDENTIAL_FIELDS:
                    fields[name] = raw.decode("utf-8", "replace")
                else:
                    data.append((name, raw))
        except MALFORMED as exc:
            raise ApiError(400, "invalid_multipart",
                           f"malformed multipart/form-data body: {exc}") from None
        if len(data) != 1:
            names = ", ".join(repr(n) for n, _ in data) or "none"
            raise ApiError(400, "invalid_multipart", "a multipart body must have exactly one "
                           "part holding the JSON array of state items (besides userId, "
                           f"password, locale); found {len(data)}: {names}")
        name, raw = data[0]
        return fields, self._json(raw, f"multipart part {name!r}")

    # ------------------------------------------------------------------ ingest
    async def ingest_states(self, request: web.Request) -> web.Response:
        server = request.query.get("acdServerId", "1").strip()
        if not server:
            raise ApiError(400, "invalid_parameter", "acdServerId must not be blank")
        form: dict[str, str] | None = None
        if request.content_type.startswith("multipart/"):
            form, body = await self._multipart(request)
            principal = await self.principal(request, form)
        else:
            principal = await self.principal(request)
            body = self._json(await self._body(request))
        settings = self.backend.tenant_settings(principal.tenant)
        try:
            events = validate_states(body, principal.tenant, server, settings, self.clock(),
                                     self.config.max_batch_items)
            self._fit([ev.to_json() for ev in events], "state item")
        except BatchError as exc:
            self.rejected.labels(kind="state").inc()
            raise self._batch_error(exc) from None
        await self.backend.publish_states(events)
        self.accepted.labels(kind="state").inc(len(events))
        return json_response({"accepted": len(events)})

    async def ingest_schedules(self, request: web.Request) -> web.Response:
        principal = await self.principal(request)
        body = self._json(await self._body(request))
        try:
            msgs = validate_schedules(body, principal.tenant, self.config.max_batch_items)
            raws = [{**raw, "tenantId": principal.tenant}
                    for raw in (body if isinstance(body, list) else [body])]
            self._fit(raws, "schedule message")
        except BatchError as exc:
            self.rejected.labels(kind="schedule").inc()
            raise self._batch_error(exc) from None
        await self.backend.publish_schedules(list(zip(msgs, raws, strict=True)))
        self.accepted.labels(kind="schedule").inc(len(msgs))
        return json_response({"accepted": len(msgs)})

    def _fit(self, records: list[dict[str, Any]], what: str) -> None:
        """Every record must fit in one broker message (else retries could never help)."""
        limit = self.config.max_message_bytes
        bad = [ItemProblems(i, [f"this {what} is {n} bytes as a record; the limit is {limit}"])
               for i, n in enumerate(len(orjson.dumps(r)) for r in records) if n > limit]
        if bad:
            raise BatchError(f"{len(bad)} of {len(records)} items are too large; none was "
                             "accepted", bad)

    @staticmethod
    def _batch_error(exc: BatchError) -> ApiError:
        if exc.too_large:
            return ApiError(413, "batch_too_large", exc.message)
        return ApiError(400, "invalid_batch", exc.message,
                        items=[p.to_json() for p in exc.items])

    # ------------------------------------------------------------------ queries
    async def adherence(self, request: web.Request) -> web.Response:
        principal = await self.principal(request)
        q = request.query
        try:
            day = check_date(q.get("date"))
            size, number = check_page(q.get("pageSize"), q.get("pageNumber"))
        except QueryError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        held = await self.backend.summaries(principal.tenant, day)
        if held is None:  # never an empty list for a day the engine does not hold
            raise ApiError(404, "day_not_kept", f"{day} is older than the days of summaries "
                           "the workers keep (RTA_API_HISTORY_DAYS) and there is no history "
                           "database to answer it from (RTA_DATABASE_URL)")
        by_agent, order = held
        agent = q.get("agentId")
        if agent is not None:
            agent = agent.strip()
            one = by_agent.get(agent)
            if one is None and self.backend.status(principal.tenant, agent) is None:
                raise ApiError(404, "agent_not_found", f"no agent {agent!r}")
            chosen = [] if one is None else [one]
        else:
            # the topic's JSON as it is: a page costs a sort of agent ids, no parsing
            chosen = [by_agent[a] for a in page(order, size, number)]
        return web.Response(body=b"[" + b",".join(chosen) + b"]",
                            content_type="application/json")

    async def _activity_args(self, request: web.Request) -> tuple[list[str] | None, int, int]:
        raw = await self._body(request)
        body = self._json(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_body", 'the body must be a JSON object like '
                           '{"agentIds": [7042, 7043]} (or empty for all agents)')
        q = request.query
        try:
            from_ts, to_ts = check_range(q.get("fromTime", body.get("fromTime")),
                                         q.get("toTime", body.get("toTime")))
        except QueryError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        ids = body.get("agentIds")
        if ids is None or ids == []:
            return None, from_ts, to_ts
        if isinstance(ids, str):  # "separated by commas"
            ids = [s for s in ids.split(",") if s.strip()]
        if not isinstance(ids, list) or not all(
                isinstance(i, int | str) and not isinstance(i, bool) for i in ids):
            raise ApiError(400, "invalid_body", "agentIds must be an array of agent ids "
                           "(numbers or strings)")
        if len(ids) > self.config.max_batch_items:
            raise ApiError(413, "batch_too_large", f"{len(ids)} agentIds exceed the limit of "
                           f"{self.config.max_batch_items}")
        return sorted({str(i).strip() for i in ids}), from_ts, to_ts

    async def activity_detail(self, request: web.Request) -> web.Response:
        principal = await self.principal(request)
        ids, from_ts, to_ts = await self._activity_args(request)
        rows = await self.backend.activity(principal.tenant, ids, from_ts, to_ts)
        return json_response(sort_by_agent(rows))

    async def internal_activity(self, request: web.Request) -> web.Response:
        """What another worker asks this one: the entries of agents it owns. The
        request is signed with the cluster secret; no user credential travels."""
        raw = await self._body(request)
        given = request.headers.get("x-rta-cluster", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.backend.cluster_signature(raw).encode()):
            raise ApiError(401, "unauthorized", "internal endpoint: not signed with this "
                           "cluster's secret (set the same RTA_CLUSTER_SECRET on every worker)")
        body = self._json(raw)
        try:
            tenant, sent = str(body["tenant"]), int(body["sentAt"])
            ids = body["agentIds"]
            if ids is not None and not isinstance(ids, list):
                raise TypeError("agentIds must be null or an array")
            from_ts, to_ts = check_range(body["fromTime"], body["toTime"])
            view = body.get("view", "rtas")
            if view not in VIEWS:
                raise ValueError(f"unknown view {view!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_body", f"internal request: {exc}") from None
        if abs(self.clock() - sent) > 60_000:
            raise ApiError(400, "stale_request", "internal request sent more than 60 s ago "
                           "by the sender's clock: replayed, or the workers' clocks differ")
        rows, parts = await self.backend.local_activity(
            tenant, None if ids is None else [str(i) for i in ids], from_ts, to_ts, view)
        return json_response({"agents": rows, "partitions": parts, "view": view})

    async def agent_status(self, request: web.Request) -> web.Response:
        principal = await self.principal(request)
        agent = request.match_info["agentId"].strip()
        status = self.backend.status(principal.tenant, agent)
        if status is None:
            raise ApiError(404, "agent_not_found", f"no agent {agent!r}")
        return json_response(status)

    # ------------------------------------------------------------------ sessions
    async def login(self, request: web.Request) -> web.Response:
        fields: Any
        if request.content_type == "multipart/form-data":
            try:
                form = await request.post()
            except MALFORMED as exc:
                raise ApiError(400, "invalid_multipart",
                               f"malformed multipart/form-data body: {exc}") from None
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            raw = await self._body(request)
            if request.content_type == "application/x-www-form-urlencoded" and not (
                    raw.lstrip().startswith(b"{")):
                fields = dict(parse_qsl(raw.decode("utf-8", "replace"),
                                        keep_blank_values=True))
            else:  # JSON (also when curl -d labels it a form)
                fields = self._json(raw)
        if not isinstance(fields, dict):
            raise ApiError(400, "invalid_request", "the body must be a JSON object with "
                           "userId and password")
        tenant, user = await self._login(fields)
        sid = new_session_id()
        now = self.clock()
        await self.backend.sessions.create(digest(sid), Session(tenant, user, now, now))
        response = json_response({
            "sessionId": sid, "userId": user, "tenantId": tenant,
            "sessionTimeout": str(self.config.session_idle_ms // 60_000),
        })
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Strict", path="/",
                            secure=secure(request))
        return response

    async def logout(self, request: web.Request) -> web.Response:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            raise ApiError(401, "unauthorized", "no session: send the hazelcast.sessionId "
                           "cookie of the session to end")
        principal = await self._session(sid)
        assert principal.session is not None
        await self.backend.sessions.end(principal.session)
        response = json_response({"ended": True})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ operations
    async def livez(self, request: web.Request) -> web.Response:
        ok = self.loop_lag < 5.0
        return json_response({"live": ok, "loopLagSeconds": round(self.loop_lag, 4)},
                             200 if ok else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        health = self.backend.health()
        return json_response(health, 200 if health["ready"] else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE})

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(openapi_document(self.config.max_body_bytes,
                                              self.config.max_batch_items))
