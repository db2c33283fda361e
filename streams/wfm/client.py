"""A client of a Webex WFO-style WFM: the session, real-time states, agents, schedules.

Session (Webex "Authorization"): ``POST /api/rest/authorize`` with the user's
credentials gives a session id; every later request sends it as the cookie
``hazelcast.sessionId``. The WFM ends a session after two hours without a
request, so the client authorises again before that, and again whenever a
request answers 401 (the request is then sent once more). ``close()`` ends the
session (``DELETE /api/rest/authorize``).

Errors are sorted for the callers' retry decisions:
:class:`Permanent` (400, 409, 413, 422: the WFM refused the request's content;
sending it again cannot help) and :class:`Transient` (everything else: 5xx,
timeouts, throttling, connection failures, a refused login, and also 403 or 404,
which say the permissions or the address are wrong rather than the data: retry
with back-off until someone fixes them). Neither carries the
credentials or the session id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import orjson

from streams.wfm.config import WfmConfig

SESSION_COOKIE = "hazelcast.sessionId"
AUTHORIZE = "/api/rest/authorize"
REAL_TIME_STATE = "/api/rest/scheduling/gis/realTimeAgentState"
AGENTS = "/api/rest/scheduling/agent"
SCHEDULE_FOR_TIMESPAN = "/api/rest/scheduling/schedule/for/timespan"
ANSWER_CHARS = 2000  # of an error answer kept (dead letters, logs)
#: Answers that refuse the request's content: sending it again cannot help.
REFUSED = frozenset({400, 409, 413, 422})


class WfmError(Exception):
    def __init__(self, message: str, status: int | None = None, answer: str = "") -> None:
        super().__init__(message)
        self.status, self.answer = status, answer[:ANSWER_CHARS]


class Transient(WfmError):
    """Worth retrying later: the WFM is down, slow, overloaded or refused the login."""


class Permanent(WfmError):
    """The WFM refused the request itself (4xx): sending it again cannot help."""


class WfmClient:
    def __init__(self, config: WfmConfig, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.config, self.clock = config, clock
        self.base = config.wfm.base_url
        self._http: aiohttp.ClientSession | None = None
        self._session_id: str | None = None
        self._last_used = 0.0
        self._auth_lock = asyncio.Lock()
        self.authorizations = 0  # sessions opened (metrics)
        self.requests = 0

    # ------------------------------------------------------------------ session
    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.wfm.timeout_seconds),
                cookie_jar=aiohttp.DummyCookieJar(),  # the session cookie is sent by hand
                json_serialize=lambda v: orjson.dumps(v).decode())
        return self._http

    def _expired(self) -> bool:
        idle = self.config.wfm.session_idle_seconds
        # a margin: a session about to time out is renewed rather than risked
        return self.clock() - self._last_used >= idle - min(60.0, idle * 0.05)

    async def authorize(self) -> None:
        cfg = self.config
        body: dict[str, Any] = {"userId": cfg.user_id,
                                "password": cfg.password.get_secret_value(),
                                "language": cfg.wfm.language, "locale": cfg.wfm.locale}
        if cfg.wfm.wfm_tenant_id is not None:
            body["tenantId"] = cfg.wfm.wfm_tenant_id
        try:
            async with self._client().post(self.base + AUTHORIZE, json=body,
                                           allow_redirects=False) as resp:
                text = await resp.text(errors="replace")
                if not 200 <= resp.status < 300:
                    # a refused login is retried (credentials may be rotated meanwhile)
                    # but never dropped into a dead letter; the answer is kept short
                    raise Transient(f"the WFM refused the login (HTTP {resp.status}); "
                                    "check the WFM user and password", resp.status, text)
                sid = resp.cookies.get(SESSION_COOKIE)
                session_id = sid.value if sid is not None else _session_from_body(text)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"authorize: {type(exc).__name__}: {exc}") from None
        if not session_id:
            raise Transient("authorize: the WFM answered without a session id")
        self._session_id = session_id
        self._last_used = self.clock()
        self.authorizations += 1

    async def _ensure_session(self, stale: str | None = None) -> str:
        async with self._auth_lock:
            if self._session_id is None or self._session_id == stale or self._expired():
                await self.authorize()
            assert self._session_id is not None
            return self._session_id

    async def close(self) -> None:
        """End the session (Webex: on shutdown) and the connection pool."""
        try:
            if self._session_id is not None and not self._expired():
                try:
                    async with self._client().delete(
                            self.base + AUTHORIZE,
                            headers={"cookie": f"{SESSION_COOKIE}={self._session_id}"}):
                        pass
                except (aiohttp.ClientError, TimeoutError):
                    pass  # it times out by itself
            self._session_id = None
        finally:
            if self._http is not None:
                await self._http.close()
                self._http = None

    # ------------------------------------------------------------------ requests
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None) -> Any:
        """One request in the session; its JSON answer (None when empty). A 401 is
        answered by authorising again and sending the request once more."""
        stale: str | None = None
        for attempt in (1, 2):
            sid = await self._ensure_session(stale)
            try:
                async with self._client().request(
                        method, self.base + path, params=params,
                        data=None if body is None else orjson.dumps(body),
                        headers={"cookie": f"{SESSION_COOKIE}={sid}",
                                 "content-type": "application/json"},
                        allow_redirects=False) as resp:
                    text = await resp.text(errors="replace")
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Transient(f"{method} {path}: {type(exc).__name__}: {exc}") from None
            self.requests += 1
            if status == 401 and attempt == 1:
                stale = sid  # the WFM ended the session: a new one, then once more
                continue
            if 200 <= status < 300:  # a redirect (say, to a login page) is not success
                self._last_used = self.clock()
                if not text.strip():
                    return None
                try:
                    return orjson.loads(text)
                except orjson.JSONDecodeError:
                    return text
            message = f"{method} {path}: HTTP {status}"
            if status in REFUSED:
                raise Permanent(message, status, text)
            # 5xx, timeouts, throttling -- and 401/403/404...: the session, permissions
            # or address are wrong, not the data; retried until someone fixes them
            raise Transient(message, status, text)
        raise AssertionError("unreachable")

    async def post_states(self, acd_server_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Real-Time Data Capture: a JSON array of acdAgentId, gisStateIdentifier,
        timestamp, reasonCode for one ACD server."""
        await self.request("POST", REAL_TIME_STATE, params={"acdServerId": acd_server_id},
                           body=list(items))

    async def agents(self, only_active: bool = True) -> list[dict[str, Any]]:
        """Agent API, full detail (with each agent's ``acdId``)."""
        params = {"fullDetail": "true"}
        if only_active:
            params["activeAgent"] = "true"
        answer = await self.request("GET", AGENTS, params=params)
        if not isinstance(answer, list):
            raise Permanent(f"GET {AGENTS}: expected a JSON array of agents",
                            None, str(answer)[:ANSWER_CHARS])
        return [a for a in answer if isinstance(a, dict)]

    async def schedules(self, agent_ids: Sequence[int], from_ms: int, to_ms: int
                        ) -> list[dict[str, Any]]:
        """Schedule for Timespan: the agents' activities in ``[from_ms, to_ms)``."""
        answer = await self.request("POST", SCHEDULE_FOR_TIMESPAN,
                                    params={"fromTimestamp": from_ms, "toTimestamp": to_ms},
                                    body={"agentIds": list(agent_ids)})
        if answer is None:
            return []
        if not isinstance(answer, list):
            raise Permanent(f"POST {SCHEDULE_FOR_TIMESPAN}: expected a JSON array",
                            None, str(answer)[:ANSWER_CHARS])
        return [a for a in answer if isinstance(a, dict)]


def _session_from_body(text: str) -> str | None:
    """The session id of an Authorize answer without the cookie: a JSON object's
    ``sessionId`` (any case), or the body itself when it is a bare id."""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        body = text.strip()
    if isinstance(body, dict):
        for k, v in body.items():
            if k.lower() in ("sessionid", "session_id") and isinstance(v, str) and v:
                return v
        return None
    if isinstance(body, str) and body and " " not in body and len(body) < 512:
        return body
    return None
