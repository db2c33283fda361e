"""Tenant isolation and credentials, on every endpoint.

Both tenants have an agent 5001 (agent ids are per tenant); contoso also has
6001. A northwind credential must never read or write contoso.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from streams.kafka import read_topic
from streams.settings import WorkerSettings
from tests.support.http import KEYS, PASSWORDS, Http, Service, wait_until

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

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


@pytest.fixture(scope="module")
def data(service: Service) -> None:
    api = service.api
    for key, agent, acd in ((NW, 5001, "nw-5001"), (CO, 5001, "co-5001"), (CO, 6001, "co-6001")):
        assert api.call("POST", "/v1/schedules", schedule(agent, acd), key=key).status == 200
        assert api.call("POST", STATE, states(acd), key=key).status == 200

    def summaries_there() -> bool:
        nw = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=NW).json
        co = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}", key=CO).json
        return len(nw) == 1 and len(co) == 2
    wait_until(summaries_there, timeout=60)


def test_a_credential_sees_its_own_tenant_only_on_every_endpoint(service: Service,
                                                                 data: None) -> None:
    api = service.api
    sid = login(api, "northwind")
    for creds in ({"x-api-key": NW}, {"Authorization": f"Bearer {NW}"}, cookie(sid)):
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


def test_a_credential_cannot_write_another_tenant(service: Service, data: None) -> None:
    api = service.api
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
    settings = WorkerSettings(broker_url=service.broker.url)
    written = [orjson.loads(v) for topic in (settings.topic_state, settings.topic_schedule)
               for _, v in asyncio.run(read_topic(settings, topic))]
    mine = [w for w in written if w.get("acdAgentId") == marker]
    assert [(w["tenantId"], w.get("eventId")) for w in mine] == [("northwind", "xt-1")]


PROTECTED = [
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
def test_missing_or_wrong_credentials_are_401(service: Service, method: str, path: str,
                                              body: Any) -> None:
    api = service.api
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic bnc6bnc="}, cookie("HZ0000"),
                    {"x-rta-cluster": "0" * 64}):
        r = api.call(method, path, body, headers=headers)
        assert r.status == 401, (headers, r.body)
        assert r.json["error"]["code"] in ("unauthorized", "session_expired")


def test_sessions_expire_when_idle_and_end_when_deleted(service: Service, data: None) -> None:
    api = service.api  # this service's idle timeout is 3 s (tests/support/http.py)
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": PASSWORDS["northwind"][0], "password": "wrong"}).status == 401
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": "nobody", "password": "x"}).status == 401
    assert api.call("POST", "/api/rest/authorize",
                    {"userId": PASSWORDS["northwind"][0]}).status == 400
    # use keeps a session alive past the idle timeout ...
    sid = login(api, "northwind")
    for _ in range(6):
        time.sleep(1)
        assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 200
    # ... idleness ends it
    time.sleep(3.5)
    r = api.call("GET", "/v1/agents/5001/status", headers=cookie(sid))
    assert r.status == 401 and r.json["error"]["code"] == "session_expired"
    assert api.call("GET", "/v1/agents/5001/status", headers=cookie(sid)).status == 401
    # DELETE ends a session at once
    sid = login(api, "contoso")
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 200
    assert api.call("DELETE", "/api/rest/authorize", headers=cookie(sid)).status == 200
    assert api.call("GET", "/v1/agents/6001/status", headers=cookie(sid)).status == 401
    assert api.call("DELETE", "/api/rest/authorize", headers=cookie(sid)).status == 401
    # ended and expired sessions are deleted from the topic (tombstones) a while later
    from streams.api.auth import digest

    settings = WorkerSettings(broker_url=service.broker.url)

    def deleted() -> bool:
        latest: dict[bytes, bytes | None] = {}
        for k, v in asyncio.run(read_topic(settings, settings.topic_sessions, idle_seconds=0.5)):
            latest[k or b""] = v
        return latest.get(digest(sid).encode(), b"") is None
    wait_until(deleted, timeout=30, every=1)
    # form-encoded login, as Webex clients send it
    user, password = PASSWORDS["contoso"]
    r = api.call("POST", "/api/rest/authorize",
                 raw=f"userId={user}&password={password}&tenantId=contoso".encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.json["tenantId"] == "contoso"


def test_keys_passwords_and_session_ids_are_never_logged(service: Service, data: None
                                                         ) -> None:
    api = service.api
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
