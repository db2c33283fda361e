"""The OpenAPI document against the server itself (no broker: the fake backend).

- every route the server registers is in the document, or deliberately internal
  (``INTERNAL_ROUTES``, which the document must not list);
- every response code the document lists can occur: ``PROVOKE`` says how to get each
  one, and the test gets it, with a body and headers as documented;
- a method a path does not support is a 405 with ``Allow`` and the project's error body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from aiohttp.test_utils import make_mocked_request

from streams.api.app import Api
from streams.api.auth import Authenticator
from streams.api.openapi import INTERNAL_ROUTES, MONITOR_ROUTES
from streams.api.ports import Unavailable
from tests.support.fake_backend import FakeBackend, FakeService, api_config
from tests.support.http import KEYS, PASSWORDS, tenants_text

WORKER_ENV = {"RTA_API_MAX_BODY_BYTES": "4000", "RTA_API_MAX_BATCH_ITEMS": "3"}
NW = KEYS["northwind"]
NOW = int(time.time() * 1000)
STATES = "/api/rest/scheduling/gis/realTimeAgentState"
DETAIL = (f"/api/rest/scheduling/realTime/activity/detail?fromTime={NOW - 3_600_000}"
          f"&toTime={NOW}")
ADHERENCE = "/api/rest/scheduling/adherence/agent"
STATE = {"acdAgentId": "100042", "gisStateIdentifier": 3, "timestamp": NOW - 1000}
SCHEDULE = {"agentId": 7042, "acdAgentId": "100042", "fromTimestamp": NOW,
            "toTimestamp": NOW + 3_600_000,
            "activities": [{"activityType": "IN_SERVICE", "startTime": NOW,
                            "endTime": NOW + 1_800_000}]}
STATUS = {"tenantId": "northwind", "agentId": 7042, "acdAgentId": "100042",
          "state": "READY", "agentState": "READY_WAITING", "gisStateIdentifier": 3,
          "reasonCode": None, "since": NOW - 1000, "loggedIn": True, "inService": True,
          "activity": None, "activityCategory": "OFF", "activityStart": None,
          "activityEnd": None, "adherence": "UNSCHEDULED", "outOfAdherenceSince": None,
          "asOf": NOW}


def login(fake: FakeService) -> str:
    user, password = PASSWORDS["northwind"]
    r = fake.api.call("POST", "/api/rest/authorize", {"userId": user, "password": password})
    assert r.status == 200, r.body
    return str(r.json["sessionId"])


def cookie(sid: str) -> dict[str, str]:
    return {"Cookie": f"hazelcast.sessionId={sid}"}


def unavailable(fake: FakeService) -> None:
    fake.backend.fail_next(Unavailable("the broker did not answer in time; retry"))


def session_unavailable(fake: FakeService) -> None:
    fake.backend.sessions.fail_next(Unavailable("busy checking sessions; retry"))


# (method, path, status) -> what gets it: (before, method, path, body, headers) where
# ``before`` prepares the fake backend, and ``headers`` are added to the API key's
Call = tuple[Callable[[FakeService], Any] | None, str, str, Any, dict[str, str] | None]
NO_KEY = {"x-api-key": ""}  # "no key": the key header is left out


def _too_big(n: int) -> bytes:
    return b"[" + b" " * n + b"]"


PROVOKE: dict[tuple[str, str, int], Call] = {
    ("post", STATES, 200): (None, "POST", STATES, [STATE], None),
    ("post", STATES, 400): (None, "POST", STATES, [{**STATE, "gisStateIdentifier": 0}], None),
    ("post", STATES, 401): (None, "POST", STATES, [STATE], NO_KEY),
    ("post", STATES, 413): (None, "POST", STATES, [STATE] * 4, None),
    ("post", STATES, 503): (unavailable, "POST", STATES, [STATE], None),
    ("post", "/v1/schedules", 200): (None, "POST", "/v1/schedules", SCHEDULE, None),
    ("post", "/v1/schedules", 400): (None, "POST", "/v1/schedules",
                                     {**SCHEDULE, "toTimestamp": NOW}, None),
    ("post", "/v1/schedules", 401): (None, "POST", "/v1/schedules", SCHEDULE, NO_KEY),
    ("post", "/v1/schedules", 413): (None, "POST", "/v1/schedules", _too_big(5000), None),
    ("post", "/v1/schedules", 503): (unavailable, "POST", "/v1/schedules", SCHEDULE, None),
    ("get", ADHERENCE, 200): (None, "GET", f"{ADHERENCE}?date=2026-12-07", None, None),
    ("get", ADHERENCE, 400): (None, "GET", f"{ADHERENCE}?date=2026-W49-1", None, None),
    ("get", ADHERENCE, 401): (None, "GET", f"{ADHERENCE}?date=2026-12-07", None, NO_KEY),
    ("get", ADHERENCE, 404): (None, "GET", f"{ADHERENCE}?date=2026-12-07&agentId=424242",
                              None, None),
    ("get", ADHERENCE, 503): (unavailable, "GET", f"{ADHERENCE}?date=2026-12-07", None, None),
    ("post", DETAIL.split("?")[0], 200): (None, "POST", DETAIL, {"agentIds": [7042]}, None),
    ("post", DETAIL.split("?")[0], 400): (None, "POST", DETAIL.replace("toTime", "x"), None,
                                          None),
    ("post", DETAIL.split("?")[0], 401): (None, "POST", DETAIL, None, NO_KEY),
    ("post", DETAIL.split("?")[0], 413): (None, "POST", DETAIL, {"agentIds": [1, 2, 3, 4]},
                                          None),
    ("post", DETAIL.split("?")[0], 503): (unavailable, "POST", DETAIL, None, None),
    ("get", "/v1/agents/{agentId}/status", 200): (None, "GET", "/v1/agents/7042/status",
                                                  None, None),
    ("get", "/v1/agents/{agentId}/status", 401): (None, "GET", "/v1/agents/7042/status", None,
                                                  NO_KEY),
    ("get", "/v1/agents/{agentId}/status", 404): (None, "GET", "/v1/agents/424242/status",
                                                  None, None),
    ("get", "/v1/agents/{agentId}/status", 503): (unavailable, "GET",
                                                  "/v1/agents/7042/status", None, None),
    ("post", "/api/rest/authorize", 200): (None, "POST", "/api/rest/authorize",
                                           {"userId": PASSWORDS["northwind"][0],
                                            "password": PASSWORDS["northwind"][1]}, NO_KEY),
    ("post", "/api/rest/authorize", 400): (None, "POST", "/api/rest/authorize",
                                           {"userId": "nw-sup"}, NO_KEY),
    ("post", "/api/rest/authorize", 401): (None, "POST", "/api/rest/authorize",
                                           {"userId": "nw-sup", "password": "wrong"}, NO_KEY),
    ("post", "/api/rest/authorize", 413): (None, "POST", "/api/rest/authorize",
                                           _too_big(5000), NO_KEY),
    ("post", "/api/rest/authorize", 503): (session_unavailable, "POST", "/api/rest/authorize",
                                           {"userId": PASSWORDS["northwind"][0],
                                            "password": PASSWORDS["northwind"][1]}, NO_KEY),
    ("delete", "/api/rest/authorize", 200): (None, "DELETE", "/api/rest/authorize", None,
                                             {"Cookie": "SESSION"}),
    ("delete", "/api/rest/authorize", 401): (None, "DELETE", "/api/rest/authorize", None,
                                             NO_KEY),
    ("delete", "/api/rest/authorize", 503): (session_unavailable, "DELETE",
                                             "/api/rest/authorize", None,
                                             {"Cookie": "SESSION"}),
    ("get", "/livez", 200): (None, "GET", "/livez", None, NO_KEY),
    ("get", "/readyz", 200): (None, "GET", "/readyz", None, NO_KEY),
    ("get", "/metrics", 200): (None, "GET", "/metrics", None, NO_KEY),
    ("get", "/openapi.json", 200): (None, "GET", "/openapi.json", None, NO_KEY),
}
# what a running server cannot be brought to on demand: the handler, called directly
DIRECT = {("get", "/livez", 503), ("get", "/readyz", 503)}


def documented_codes(doc: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(method, path, int(code)) for path, ops in doc["paths"].items()
            for method, op in ops.items() for code in op["responses"]}


@pytest.fixture(scope="module")
def doc(fake_service: FakeService) -> dict[str, Any]:
    r = fake_service.api.call("GET", "/openapi.json")
    assert r.status == 200
    return dict(r.json)


@pytest.fixture(scope="module")
def contract(doc: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(doc)


def test_every_route_is_documented_or_deliberately_internal(doc: dict[str, Any]) -> None:
    backend = FakeBackend(tenants_text())
    app = Api(backend, Authenticator(backend.tenants), api_config(WORKER_ENV),
              lambda: NOW).make_app()
    registered = {(r.method, r.resource.canonical) for r in app.router.routes()
                  if r.resource is not None}
    # aiohttp answers HEAD wherever it answers GET; the document leaves HEAD implicit
    registered -= {("HEAD", path) for method, path in registered if method == "GET"}
    documented = {(method.upper(), path) for path, ops in doc["paths"].items()
                  for method in ops}
    assert registered == documented | INTERNAL_ROUTES | MONITOR_ROUTES
    assert not documented & (INTERNAL_ROUTES | MONITOR_ROUTES)  # not in the public document
    # the monitor's are documented with the page
    monitor_doc = (Path(__file__).parents[3] / "docs" / "MONITOR.md").read_text()
    assert all(f"`{path}" in monitor_doc or f"{method} {path}" in monitor_doc
               for method, path in MONITOR_ROUTES - {("GET", "/monitor/static/{name}")}), \
        "a monitor route is missing from docs/MONITOR.md"
    assert "/internal" not in orjson.dumps(doc).decode()


def test_every_documented_response_code_can_occur(doc: dict[str, Any], contract: Any,
                                                  fake_service: FakeService) -> None:
    assert set(PROVOKE) | DIRECT == documented_codes(doc)
    fake = fake_service
    fake.backend.statuses[("northwind", "7042")] = STATUS
    fake.backend.activities["northwind"] = [{
        "agentId": 7042, "employeeId": None, "acdAgentId": "100042",
        "realTimeActivities": [{"agentState": "READY_WAITING", "reasonCode": None,
                                "timestamp": NOW - 1000}]}]
    for (method, path, status), (before, verb, url, body, extra) in PROVOKE.items():
        headers = {"x-api-key": NW, **(extra or {})}
        if headers.get("x-api-key") == "":
            del headers["x-api-key"]
        if headers.get("Cookie") == "SESSION":
            headers["Cookie"] = cookie(login(fake))["Cookie"]
        if body is not None and not isinstance(body, bytes):
            body = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        if before is not None:
            before(fake)
        r = requests.request(verb, fake.api.base + url, data=body, headers=headers, timeout=30)
        assert r.status_code == status, (method, path, status, r.content)
        # the body and headers are as the document says for this status
        contract[path][method.upper()].validate_response(r)


async def test_health_can_answer_503() -> None:
    backend = FakeBackend(tenants_text())
    api = Api(backend, Authenticator(backend.tenants), api_config(WORKER_ENV), lambda: NOW)
    api.loop_lag = 6.0  # the event loop woke up 6 s late
    assert (await api.livez(make_mocked_request("GET", "/livez"))).status == 503
    backend.health = lambda: {"ready": False, "checks": {"fake": {"ok": False}}}  # type: ignore[method-assign]
    assert (await api.readyz(make_mocked_request("GET", "/readyz"))).status == 503


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/livez"), ("PUT", STATES), ("GET", STATES), ("DELETE", "/v1/schedules"),
    ("PATCH", "/api/rest/authorize"), ("OPTIONS", "/openapi.json"),
    ("POST", "/v1/agents/7042/status")])
def test_an_unsupported_method_is_405_with_allow(fake_service: FakeService, method: str,
                                                 path: str, doc: dict[str, Any]) -> None:
    r = fake_service.api.call(method, path, key=NW)
    assert r.status == 405
    template = next(p for p in doc["paths"] if p.split("{")[0] == path[:len(p.split("{")[0])]
                    and p.count("/") == path.count("/"))
    allowed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allowed - {"HEAD"} == {m.upper() for m in doc["paths"][template]}
    error = r.json["error"]
    assert error["status"] == 405 and error["code"] == "method_not_allowed"
    assert method in error["message"] and r.headers["Allow"] in error["message"]
