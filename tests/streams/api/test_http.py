"""Every endpoint against the running service on a real broker.

Values are checked against `rta replay` of the same log (the offline engine),
fed through the HTTP ingest endpoints as a connector and a WFM would.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rta.config import TenantsConfig
from rta.queries import activity_detail
from rta.replay import replay_log
from streams.kafka import read_topic
from streams.local.simulate import CentreSpec, generate
from streams.settings import WorkerSettings
from tests.support.http import KEYS, Http, Service, all_pages, send_log, wait_until, without_as_of

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

NW = KEYS["northwind"]
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def centre(service: Service) -> dict[str, Any]:
    """Two days of a 12-agent northwind centre, sent over HTTP; the replay of it."""
    spec = CentreSpec(agents=12, days=2, start=date(2026, 10, 31), tenant="northwind",
                      time_zone="America/Chicago", seed=11, late_fraction=0.05,
                      duplicate_fraction=0.05, multichannel_fraction=0.3,
                      schedule_change_fraction=0.3)
    records = list(generate(spec))
    cfg = TenantsConfig.from_toml(service.tenants.read_text())
    result = replay_log(records, cfg)
    assert send_log(service.api, records, NW) == len(records)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for s in result.summaries:
        by_day.setdefault(s["date"], []).append(s)
    return {"records": records, "replay": result, "by_day": by_day}


def test_adherence_equals_replay_for_every_day(service: Service, centre: dict[str, Any]
                                               ) -> None:
    assert set(centre["by_day"]) >= {"2026-10-31", "2026-11-01"}
    for day, want in centre["by_day"].items():
        wait_until(lambda d=day, w=want: without_as_of(all_pages(service.api, d, NW)) == w,
                   timeout=120)


def test_adherence_pages_and_agent_filter(service: Service, centre: dict[str, Any]) -> None:
    api = service.api
    day = "2026-10-31"
    want = centre["by_day"][day]
    wait_until(lambda: without_as_of(all_pages(api, day, NW)) == want, timeout=120)
    pages = [without_as_of(api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}"
                                           f"&pageSize=5&pageNumber={n}", key=NW).json)
             for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [5, 5, 2, 0]
    assert [r for p in pages for r in p] == want  # sorted by agent id, nothing twice
    default = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}", key=NW).json
    assert len(default) == min(25, len(want))
    agent = want[3]["agentId"]
    one = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}&agentId={agent}",
                   key=NW)
    assert without_as_of(one.json) == [want[3]]
    for bad in ("pageSize=201", "pageSize=0", "pageNumber=0", "pageSize=x"):
        r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}&{bad}", key=NW)
        assert r.status == 400, bad
        assert r.json["error"]["code"] == "invalid_parameter"
        assert bad.split("=")[0] in r.json["error"]["message"]
    for bad in ("", "date=2026-13-01", "date=31.10.2026"):
        r = api.call("GET", f"/api/rest/scheduling/adherence/agent?{bad}", key=NW)
        assert r.status == 400 and "date" in r.json["error"]["message"], bad
    r = api.call("GET", f"/api/rest/scheduling/adherence/agent?date={day}&agentId=999999",
                 key=NW)
    assert r.status == 404 and r.json["error"]["code"] == "agent_not_found"
    # a day with no data among the days kept is an empty page, not an error
    assert api.call("GET", "/api/rest/scheduling/adherence/agent?date=2026-10-28",
                    key=NW).json == []
    # an older day, which no worker holds (and there is no history database): an error
    # that says why, never an empty page
    r = api.call("GET", "/api/rest/scheduling/adherence/agent?date=2026-10-20", key=NW)
    assert r.status == 404 and r.json["error"]["code"] == "day_not_kept", r.json
    assert "RTA_DATABASE_URL" in r.json["error"]["message"]


def detail(api: Http, from_ts: int, to_ts: int, ids: list[Any] | None, key: str = NW
           ) -> Any:
    body = None if ids is None else {"agentIds": ids}
    return api.call("POST", f"/api/rest/scheduling/realTime/activity/detail?fromTime={from_ts}"
                            f"&toTime={to_ts}", body, key=key)


def test_activity_detail_equals_replay_with_range_edges(service: Service,
                                                        centre: dict[str, Any]) -> None:
    api = service.api
    engine = centre["replay"].engine
    reducers = {str(r.agent_id): r for (t, _), r in engine.agents.items() if t == "northwind"}
    day0 = min(r.eff.times[0] for r in reducers.values() if r.eff.times)
    from_ts, to_ts = day0 + 6 * 3_600_000, day0 + 30 * 3_600_000

    def want(ids: list[str], a: int, b: int) -> list[dict[str, Any]]:
        rows = [activity_detail(reducers[i], a, b) for i in sorted(ids, key=int)]
        return [r for r in rows if r is not None]

    everyone = sorted(reducers, key=int)
    wait_until(lambda: detail(api, from_ts, to_ts, None).json == want(everyone, from_ts, to_ts),
               timeout=120)
    assert detail(api, from_ts, to_ts, [int(everyone[0]), everyone[2]]).json == want(
        [everyone[0], everyone[2]], from_ts, to_ts)

    # edges, on one agent's own run starts: fromTime inclusive, toTime exclusive, and the
    # state in progress at fromTime included although it began before
    agent = everyone[1]
    entry = activity_detail(reducers[agent], from_ts, to_ts)
    assert entry is not None
    times = [a["timestamp"] for a in entry["realTimeActivities"] if from_ts < a["timestamp"]]
    t1, t2 = times[3], times[8]
    at = detail(api, t1, t2, [agent]).json[0]["realTimeActivities"]
    assert at[0]["timestamp"] == t1
    assert all(a["timestamp"] < t2 for a in at)
    just_after = detail(api, t1 + 1, t2 + 1, [agent]).json[0]["realTimeActivities"]
    assert just_after[0]["timestamp"] == t1  # began before fromTime: included
    assert just_after[-1]["timestamp"] == t2  # toTime now after it
    assert just_after == want([agent], t1 + 1, t2 + 1)[0]["realTimeActivities"]

    # range limits: 31 days is the most
    assert detail(api, from_ts, from_ts + 31 * DAY_MS, [agent]).status == 200
    r = detail(api, from_ts, from_ts + 31 * DAY_MS + 1, [agent])
    assert r.status == 400 and "31 days" in r.json["error"]["message"]
    for q in (f"fromTime={to_ts}&toTime={from_ts}", f"toTime={to_ts}", "fromTime=x&toTime=1"):
        r = api.call("POST", f"/api/rest/scheduling/realTime/activity/detail?{q}", {}, key=NW)
        assert r.status == 400, q
    # unknown agents have no real-time data: left out (Webex)
    assert detail(api, from_ts, to_ts, ["424242"]).json == []


def test_agent_status_is_live(service: Service, centre: dict[str, Any]) -> None:
    api = service.api
    sched = next(r["body"] for r in centre["records"] if r["kind"] == "schedule")
    agent, acd = str(sched["agentId"]), sched["acdAgentId"]
    now = int(time.time() * 1000)
    # with chat figures (an Omni dashboard event): through the state topic, the
    # router's compact form and the reducer into the status
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1",
                 [{"acdAgentId": acd, "gisStateIdentifier": "2", "reasonCode": 7,
                   "timestamp": now, "eventId": f"live-{now}", "chatCapacity": 4,
                   "chatsInProgress": 1}], key=NW)
    assert r.status == 200

    def status(chats: int) -> Any:
        s = api.call("GET", f"/v1/agents/{agent}/status", key=NW)
        return s.json if s.status == 200 and s.json["since"] == now and s.json[
            "chatsInProgress"] == chats else None

    st = wait_until(lambda: status(1), timeout=30)
    assert (st["state"], st["agentState"], st["reasonCode"], st["loggedIn"]) == (
        "NOT_READY", "NOT_READY_BUSY", 7, True)
    assert (st["chatCapacity"], st["chatsInProgress"]) == (4, 1)
    # other counts in the same state: a new status, the same run (since)
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1",
                 [{"acdAgentId": acd, "gisStateIdentifier": 2, "reasonCode": 7,
                   "timestamp": now + 1000, "eventId": f"live-{now}-2", "chatCapacity": 4,
                   "chatsInProgress": 3}], key=NW)
    assert r.status == 200
    st = wait_until(lambda: status(3), timeout=30)
    assert (st["state"], st["chatCapacity"], st["since"]) == ("NOT_READY", 4, now)
    bad = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1",
                   [{"acdAgentId": acd, "gisStateIdentifier": 2, "timestamp": now,
                     "chatsInProgress": 2.0}], key=NW)
    assert bad.status == 400 and "chatsInProgress" in bad.body.decode()
    assert api.call("GET", "/v1/agents/no-such-agent/status", key=NW).status == 404


def test_a_bad_batch_is_rejected_whole_and_nothing_reaches_the_topic(service: Service
                                                                      ) -> None:
    api = service.api
    marker = "all-or-nothing-9"
    items = [
        {"acdAgentId": marker, "gisStateIdentifier": "3", "timestamp": 1_790_000_000_000},
        {"acdAgentId": marker, "gisStateIdentifier": "11", "timestamp": 1_790_000_001_000},
        {"acdAgentId": marker, "gisStateIdentifier": 4, "timestamp": "soon"},
        "not an object",
        {"acdAgentId": marker, "gisStateIdentifier": 4, "timestamp": 1_790_000_002_000,
         "reasonCode": 70000},
        {"acdAgentId": marker, "gisStateIdentifier": 3, "timestamp": 1_790_000_003_000,
         "acdServerId": "2"},
    ]
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1", items,
                 key=NW)
    assert r.status == 400
    err = r.json["error"]
    assert err["code"] == "invalid_batch"
    assert [i["index"] for i in err["items"]] == [1, 2, 3, 4, 5]
    text = orjson.dumps(err["items"]).decode()
    for expect in ("gisStateIdentifier", "timestamp", "must be a JSON object", "reasonCode",
                   "acdServerId"):
        assert expect in text
    # a far-future timestamp is refused as the stream would refuse it
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", [
        {"acdAgentId": marker, "gisStateIdentifier": 3, "timestamp": 9_000_000_000_000}], key=NW)
    assert r.status == 400 and "ahead of the worker clock" in r.body.decode()
    # schedules too: one bad message rejects the array
    good = {"agentId": 990001, "acdAgentId": marker, "fromTimestamp": 1_790_000_000_000,
            "toTimestamp": 1_790_086_400_000, "activities": []}
    bad = {**good, "agentId": 990002, "activities": [{"activityType": "IN_SERVICE",
                                                     "startTime": 5, "endTime": 4}]}
    r = api.call("POST", "/v1/schedules", [good, bad], key=NW)
    assert r.status == 400 and [i["index"] for i in r.json["error"]["items"]] == [1]
    assert "endTime" in r.json["error"]["items"][0]["errors"][0]
    # a valid batch afterwards is there; nothing of the rejected ones
    ok = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1",
                  [{**items[0], "eventId": "aon-good"}], key=NW)
    assert ok.status == 200
    settings = WorkerSettings(broker_url=service.broker.url)
    states = [orjson.loads(v) for _, v in asyncio.run(read_topic(settings, settings.topic_state))]
    mine = [s for s in states if s["acdAgentId"] == marker]
    assert mine == [{"tenantId": "northwind", "acdServerId": "1", "acdAgentId": marker,
                     "gisStateIdentifier": 3, "timestamp": 1_790_000_000_000,
                     "reasonCode": None, "eventId": "aon-good"}]
    schedules = [orjson.loads(v) for _, v in asyncio.run(read_topic(settings, settings.topic_schedule))]
    assert not [s for s in schedules if s["agentId"] in (990001, 990002)]


def test_multipart_body_as_webex_documents_it(service: Service) -> None:
    api = service.api
    boundary = "----rta-test-boundary"
    items = [{"acdAgentId": "mp-1", "gisStateIdentifier": "3", "timestamp": 1_790_000_000_000,
              "eventId": "mp-1-a"}]

    def form(parts: list[tuple[str, bytes]]) -> bytes:
        out = b""
        for name, value in parts:
            out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                    ).encode() + value + b"\r\n"
        return out + f"--{boundary}--\r\n".encode()

    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    from tests.support.http import PASSWORDS
    user, password = PASSWORDS["northwind"]
    body = form([("userId", user.encode()), ("password", password.encode()),
                 ("locale", b"en"), ("file", orjson.dumps(items))])
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1",
                 raw=body, headers=ctype)
    assert r.status == 200 and r.json == {"accepted": 1}
    # the same with a key header instead of the credential fields
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", key=NW,
                 raw=form([("data", orjson.dumps(items))]), headers=ctype)
    assert r.status == 200
    wrong = form([("userId", user.encode()), ("password", b"nope"),
                  ("file", orjson.dumps(items))])
    assert api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", raw=wrong,
                    headers=ctype).status == 401
    two = form([("a", b"[]"), ("b", b"[]")])
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", key=NW, raw=two,
                 headers=ctype)
    assert r.status == 400 and "exactly one part" in r.json["error"]["message"]


def test_health_metrics_and_openapi(service: Service, centre: dict[str, Any]) -> None:
    api = service.api
    live = api.call("GET", "/livez")
    assert live.status == 200 and live.json["live"] is True
    ready = api.call("GET", "/readyz").json
    assert ready["ready"] is True
    assert set(ready["checks"]) == {"broker", "partitions", "tables", "views"}
    metrics = api.call("GET", "/metrics")
    assert metrics.status == 200
    text = metrics.body.decode()
    for name in ("rta_http_requests_total", "rta_http_request_duration_seconds_bucket",
                 "rta_routed_total", "rta_applied_total", "rta_reducers", "rta_ready 1",
                 "rta_view_lag_records", "rta_http_ingested_total"):
        assert name in text, name
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert all(ln.split("{")[0].split(" ")[0].startswith("rta_") for ln in samples)
    # issue 19: by topic and by cause, the status latency, snapshot bytes, recovery time
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in text_string_to_metric_families(text) for s in family.samples}
    settings = WorkerSettings()  # the test's namespace (RTA_* in the environment)
    assert got[("rta_records_in_total", (("topic", settings.topic_state),))] > 0
    assert got[("rta_records_in_total", (("topic", f"{settings.app_id}-agent-input"),))] > 0
    assert got[("rta_records_out_total", (("topic", settings.topic_adherence),))] > 0
    assert got[("rta_records_out_total", (("topic", settings.topic_status),))] > 0
    assert {labels for name, labels in got if name == "rta_deadletter_total"} == {
        (("reason", r),) for r in ("malformed", "future", "horizon", "hold_overflow",
                                   "conflict", "other")}
    assert (("rta_consumer_lag_records", (("topic", settings.topic_schedule),))) in got
    assert got[("rta_status_latency_seconds_count", ())] > 0
    assert got[("rta_status_latency_seconds_bucket", (("le", "+Inf"),))] == got[
        ("rta_status_latency_seconds_count", ())]
    assert got[("rta_snapshot_bytes", ())] > 0
    assert 0 <= got[("rta_recovery_seconds", ())] < 60  # a recovery was timed (not NaN)
    agent_ids = {str(r["body"]["agentId"]) for r in centre["records"] if r["kind"] == "schedule"}
    labels = "".join(ln.split("}")[0] for ln in samples if "{" in ln)
    assert not any(f'"{a}"' in labels for a in agent_ids)  # no per-agent series
    doc = api.call("GET", "/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/rest/scheduling/gis/realTimeAgentState", "/v1/schedules",
        "/api/rest/scheduling/adherence/agent", "/api/rest/scheduling/realTime/activity/detail",
        "/v1/agents/{agentId}/status", "/api/rest/authorize", "/livez", "/readyz", "/metrics",
        "/openapi.json"}  # the workers' internal endpoint is not advertised
    r = api.call("GET", "/no/such/path", key=NW)
    assert r.status == 404 and r.json["error"]["code"] == "not_found"
