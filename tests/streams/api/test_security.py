"""Tenant isolation and credentials, on every endpoint.

Both tenants have an agent 5001 (agent ids are per tenant); contoso also has
6001. A northwind credential must never read or write contoso.

What the HTTP layer alone decides (which tenant a credential is, 401s, sessions'
idle timeout, what reaches the log) is checked against the API on a fake backend
(``fake_service``, no broker). What only the running engine shows is checked on a
worker and a broker (``service``, marked slow): the views and reducers keep the
tenants' agents apart, the worker's session store expires and deletes sessions
on the sessions topic, and neither the worker's nor the broker's log nor the
sessions topic holds a secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from streams.api.auth import digest
from streams.kafka import read_topic
from streams.settings import WorkerSettings
from tests.support.fake_backend import FakeService
from tests.support.http import KEYS, PASSWORDS, Http, Service, wait_until

slow = pytest.mark.slow  # starts a broker, workers or PostgreSQL

NW, CO = KEYS["northwind"], KEYS["contoso"]
WORKER_ENV = {"RTA_LOG_LEVEL": "debug"}  # whatever is logged, no secret may be in it
T0 = 1_793_606_400_000  # 2026-11-02 06:00 UTC
DAY = "2026-11-02"
STATE = "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1"
DETAIL = f"/api/rest/scheduling/realTime/activity/detail?fromTime={T0}&toTime={T0 + 86_400_000}"


def schedule(agent: int, acd: str) -> dict[str, Any]:
    return {"agentId": agent, "acdAgentId": acd, "fromTimestamp": T0,
            "toTimestamp": T0 + 12 * 3_600_000,
            "activities": [{"activityType": "IN_SERVICE", "startTime": T0 + 3_600_000,
                            "endTime": T0 + 5 * 3_600_000}]}


def states(acd: str) -> list[dict[str, Any]]:
    return [{"acdAgentId": acd, "gisStateIdentifier": 3, "timestamp": T0 + 3_600_000},
            {"acdAgentId": acd, "gisStateIdentifier": 1, "timestamp": T0 + 4 * 3_600_000}]


def login(api: Http, tenant: str) -> str:
    user, password = PASSWORDS[tenant]
    r = api.call("POST", "/api/rest/authorize", {"userId": user, "password": password})
    assert r.status == 200, r.body
    assert r.json["tenantId"] == tenant
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("hazelcast.sessionId=") and "HttpOnly" in cookie
    return str(r.json["sessionId"])


def cookie(sid: str) -> dict[str, str]:
    return {"Cookie": f"hazelcast.sessionId={sid}"}

AGENTS = (("northwind", 5001, "nw-5001"), ("contoso", 5001, "co-5001"), ("contoso", 6001, "co-6001"))


@pytest.fixture(scope="module")
def data(service: Service) -> None:
    api = service.api
    for (tenant, agent, acd) in AGENTS:
        key = KEYS[tenant]
        assert api.call("POST", "/v1/schedules", schedule(agent, acd), key=key).status == 200
        assert api.call("POST", STATE, states(acd), key=key).status == 200

    def summaries_there() -> bool:
        nw = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=NW).json
        co = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=CO).json
        return len(nw) == 1 and len(co) == 2
    wait_until(summaries_there, timeout=60)


@pytest.fixture(scope="module")
def fake(fake_service: FakeService) -> FakeService:
    """The fake backend holding what ``data`` makes the engine hold: a status, a day
    summary and real-time agent states for each agent."""
    backend = fake_service.backend
    for tenant, agent, acd in AGENTS:
        row = {"tenantId": tenant, "agentId": agent, "acdAgentId": acd}
        backend.statuses[(tenant, str(agent))] = {**row, "state": "LOGGED_OUT"}
        backend.days.setdefault((tenant, DAY), {})[str(agent)] = {**row, "date": DAY}
        backend.activities.setdefault(tenant, []).append({"agentId": agent, "acdAgentId": acd,
                                                          "entries": []})
    return fake_service


def test_a_credential_sees_its_own_tenant_only_on_every_endpoint(fake: FakeService) -> None:
    api = fake.api
    sid = login(api, "northwind")
    for creds in ({"x-api-key": NW}, {"Authorization": f"Bearer {NW}"}, cookie(sid)):
        asked = len(fake.backend.activity_calls)
        # live status: same agent id, each tenant its own agent; the other's agent: 404
        st = api.call("GET", "/v1/agents/5001/status", headers=creds)
        assert st.status == 200 and (st.json["tenantId"], st.json["acdAgentId"]) == (
            "northwind", "nw-5001")
        assert api.call("GET", "/v1/agents/6001/status", headers=creds).status == 404
        # adherence
        rows = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}",
                        headers=creds).json
        assert [(r["tenantId"], r["acdAgentId"]) for r in rows] == [("northwind", "nw-5001")]
        r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}&agentId=6001",
                     headers=creds)
        assert r.status == 404
        # real-time agent states, asked for explicitly or for everyone
        assert api.call("POST", DETAIL, {"agentIds": [6001]}, headers=creds).json == []
        everyone = api.call("POST", DETAIL, {}, headers=creds).json
        assert [(a["agentId"], a["acdAgentId"]) for a in everyone] == [(5001, "nw-5001")]
        assert {c[0] for c in fake.backend.activity_calls[asked:]} == {"northwind"}
        # the endpoint between workers takes no user credential at all
        internal = api.call("POST", "/internal/v1/activity",
                            {"tenant": "contoso", "agentIds": [6001], "fromTime": T0,
                             "toTime": T0 + 86_400_000, "sentAt": int(time.time() * 1000)},
                            headers=creds)
        assert internal.status == 401
    # contoso, for contrast, sees both of its agents
    co_rows = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=CO).json
    assert [(r["agentId"], r["acdAgentId"]) for r in co_rows] == [(5001, "co-5001"),
                                                                  (6001, "co-6001")]


@slow
def test_the_engine_keeps_the_tenants_agents_apart(service: Service, data: None) -> None:
    """Both tenants' agent 5001 went through the worker: its views and reducers answer
    each tenant with its own (every credential kind: on the fake backend, above)."""
    api = service.api
    st = api.call("GET", "/v1/agents/5001/status", key=NW)
    assert st.status == 200 and (st.json["tenantId"], st.json["acdAgentId"]) == (
        "northwind", "nw-5001")
    assert api.call("GET", "/v1/agents/6001/status", key=NW).status == 404
    rows = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=NW).json
    assert [(r["tenantId"], r["acdAgentId"]) for r in rows] == [("northwind", "nw-5001")]
    r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}&agentId=6001",
                 key=NW)
    assert r.status == 404
    assert api.call("POST", DETAIL, {"agentIds": [6001]}, key=NW).json == []
    everyone = api.call("POST", DETAIL, {}, key=NW).json
    assert [(a["agentId"], a["acdAgentId"]) for a in everyone] == [(5001, "nw-5001")]
    co_rows = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=CO).json
    assert [(r["agentId"], r["acdAgentId"]) for r in co_rows] == [(5001, "co-5001"),
                                                                  (6001, "co-6001")]


def test_a_credential_cannot_write_another_tenant(fake_service: FakeService) -> None:
    api, backend = fake_service.api, fake_service.backend
    marker = "cross-tenant-write"
    r = api.call("POST", STATE, [{"tenantId": "contoso", "acdAgentId": marker,
                                  "gisStateIdentifier": 3, "timestamp": T0}], key=NW)
    assert r.status == 400 and "tenantId" in r.json["error"]["items"][0]["errors"][0]
    r = api.call("POST", "/v1/schedules", {**schedule(6001, marker), "tenantId": "contoso"},
                 key=NW)
    assert r.status == 400
    # a write without tenantId lands in the credential's tenant, whatever the body says
    r = api.call("POST", STATE, [{"acdAgentId": marker, "gisStateIdentifier": 3,
                                  "timestamp": T0, "eventId": "xt-1"}], key=NW)
    assert r.status == 200
    # what the worker would send to the state and schedule topics
    written = [ev.to_json() for ev in backend.states] + [raw for _, raw in backend.schedules]
    mine = [w for w in written if w.get("acdAgentId") == marker]
    assert [(w["tenantId"], w.get("eventId")) for w in mine] == [("northwind", "xt-1")]


PROTECTED: list[tuple[str, str, Any]] = [
    ("GET", "/v1/agents/5001/status", None),
    ("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", None),
    ("POST", DETAIL, {}),
    ("POST", STATE, []),
    ("POST", "/v1/schedules", []),
    ("POST", "/internal/v1/activity", {"tenant": "northwind", "agentIds": None,
                                       "fromTime": T0, "toTime": T0 + 1, "sentAt": 0}),
    ("DELETE", "/api/rest/authorize", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_missing_or_wrong_credentials_are_401(fake_service: FakeService, method: str,
                                              path: str, body: Any) -> None:
    api = fake_service.api
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic bnc6bnc="}, cookie("HZ0000"),
                    {"x-rta-cluster": "0" * 64}):
        r = api.call(method, path, body, headers=headers)
        assert r.status == 401, (headers, r.body)
        assert r.json["error"]["code"] in ("unauthorized", "session_expired")


def test_sessions_expire_when_idle_and_end_when_deleted(fake: FakeService) -> None:
    api, clock = fake.api, fake.clock  # the idle timeout is 3 s, as on the service
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": PASSWORDS["northwind"][0], "password": "wrong"}).status == 401
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": "nobody", "password": "x"}).status == 401
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": PASSWORDS["northwind"][0]}).status == 400
    # use keeps a session alive past the idle timeout ...
    sid = login(api, "northwind")
    for _ in range(6):
        clock.advance(1)
        assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 200
    # ... idleness ends it
    clock.advance(3.5)
    r = api.call("GET", "/v1/agents/5001/status", headers=cookie(sid))
    assert r.status == 401 and r.json["error"]["code"] == "session_expired"
    assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 401
    # DELETE ends a session at once
    sid = login(api, "contoso")
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 200
    assert api.call("DELETE", "/api/rest/authorize", headers=cookie(sid)).status == 200
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 401
    assert api.call("DELETE", "/api/rest/authorize", headers=cookie(sid)).status == 401
    # form-encoded login, as Webex clients send it
    user, password = PASSWORDS["contoso"]
    r = api.call("POST", "/api/rest/authorize",
                 raw=f"userId={user}&password={password}&tenantId=contoso".encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.json["tenantId"] == "contoso"


@slow
def test_sessions_expire_and_end_through_the_sessions_topic(service: Service, data: None
                                                            ) -> None:
    """The worker's session store: a session idle past the timeout (3 s here) expires,
    an ended one ends at once and is deleted from the topic (a tombstone) a while later."""
    api = service.api
    sid = login(api, "northwind")
    assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 200
    time.sleep(3.5)
    r = api.call("GET", "/v1/agents/5001/status", headers=cookie(sid))
    assert r.status == 401 and r.json["error"]["code"] == "session_expired"
    sid = login(api, "contoso")
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 200
    assert api.call("DELETE", "/api/rest/authorize", headers=cookie(sid)).status == 200
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 401
    settings = WorkerSettings(broker_url=service.broker.url)

    def deleted() -> bool:
        latest: dict[bytes, bytes | None] = {}
        for k, v in asyncio.run(read_topic(settings, settings.topic_sessions, idle_seconds=0.5)):
            latest[k or b""] = v
        return latest.get(digest(sid).encode(), b"") is None
    wait_until(deleted, timeout=30, every=1)


def secret_requests(api: Http) -> str:
    """Requests carrying every kind of secret; the session id used."""
    sid = login(api, "northwind")
    api.call("GET", "/v1/agents/5001/status", headers=cookie(sid))
    api.call("GET", "/v1/agents/5001/status", headers={"x-api-key": "wrong-key-zz9"})
    api.call("POST", STATE, raw=b"{not json", key=NW)
    user, password = PASSWORDS["contoso"]
    form = (b"--B\r\nContent-Disposition: form-data; name=\"userId\"\r\n\r\n" + user.encode()
            + b"\r\n--B\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n"
            + password.encode() + b"\r\n--B\r\nContent-Disposition: form-data; name=\"f\""
            b"\r\n\r\n[]\r\n--B--\r\n")
    r = api.call("POST", STATE, raw=form, headers={"Content-Type": "multipart/form-data; "
                                                                  "boundary=B"})
    assert r.status == 200
    return sid


def test_keys_passwords_and_session_ids_are_never_logged(fake: FakeService,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, whatever level
    api = fake.api
    sid = secret_requests(api)
    # an error the API logs with its traceback, for a request with a session cookie
    fake.backend.fail_next(RuntimeError("the backend failed"))
    assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 500
    api.call("DELETE", "/api/rest/authorize", headers=cookie(sid))
    log = caplog.text
    assert "HTTP GET /v1/agents/{agentId}/status failed" in log  # the API's log is captured
    assert "the backend failed" in log
    secrets = [NW, CO, sid, "wrong-key-zz9", *(p for _, p in PASSWORDS.values())]
    for s in secrets:
        assert s not in log
    # the session store is given the session id's digest only
    created = fake.backend.sessions.created
    assert digest(sid) in created and not any(sid in k for k in created)


@slow
def test_keys_passwords_and_session_ids_are_never_logged_by_the_worker_or_broker(
        service: Service, data: None) -> None:
    api = service.api
    sid = secret_requests(api)
    api.call("DELETE", "/api/rest/authorize", headers=cookie(sid))
    log = service.workers[0].log.read_text(errors="replace")
    assert "DEBUG" in log  # the worker logged at debug level
    broker_log = service.broker.log.read_text(errors="replace") if service.broker.log else ""
    secrets = [NW, CO, sid, "wrong-key-zz9", *(p for _, p in PASSWORDS.values())]
    for s in secrets:
        assert s not in log
        assert s not in broker_log
    # the session id is not on the broker either: the sessions topic is keyed by its digest
    settings = WorkerSettings(broker_url=service.broker.url)
    records = asyncio.run(read_topic(settings, settings.topic_sessions))
    assert records and not any(sid.encode() in (k or b"") + (v or b"") for k, v in records)
