"""Two workers: whichever gets the request answers for any agent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rta.calendar import DayCalendar
from rta.config import TenantsConfig
from rta.queries import activity_detail, timeline
from rta.replay import replay_log
from streams.local.simulate import CentreSpec, generate
from tests.support.http import (
    KEYS,
    PASSWORDS,
    Service,
    all_pages,
    send_log,
    wait_until,
    without_as_of,
)

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

WORKERS = 2
WORKER_ENV = {"RTA_CLUSTER_SECRET": "test-cluster-secret"}
NW = KEYS["northwind"]


# two days back in the tenant's zone: the simulated day's late shifts run past its
# midnight, which yesterday's would put ahead of the clock in the first hour of today
# (a 400 for the future tolerance)
DAY: date = datetime.now(ZoneInfo("America/Chicago")).date() - timedelta(days=2)


def test_every_worker_answers_for_every_agent(service: Service) -> None:
    w1, w2 = service.http
    parts = [set(h.call("GET", "/readyz").json["checks"]["partitions"]["assigned"])
             for h in service.http]
    assert parts[0] and parts[1] and not parts[0] & parts[1], parts  # both own some

    # a recent day in the tenant's zone: one the workers keep (an older one is a 404
    # day_not_kept without a history database, once today's summaries exist)
    spec = CentreSpec(agents=10, days=1, start=DAY, tenant="northwind",
                      time_zone="America/Chicago", seed=3, multichannel_fraction=0.3)
    records = list(generate(spec))
    result = replay_log(records, TenantsConfig.from_toml(service.tenants.read_text()))
    send_log(w2, records[: len(records) // 2], NW)  # through both
    send_log(w1, records[len(records) // 2:], NW)
    day = DAY.isoformat()
    want = [s for s in result.summaries if s["date"] == day]
    assert len(want) == 10
    for http in (w1, w2):
        wait_until(lambda h=http: without_as_of(all_pages(h, day, NW, size=3)) == want,
                   timeout=120)

    reducers = {str(r.agent_id): r for r in result.engine.agents.values()}
    a, b = min(r.eff.times[0] for r in reducers.values()), max(
        r.eff.times[-1] for r in reducers.values()) + 1
    expect = [activity_detail(reducers[k], a, b) for k in sorted(reducers, key=int)]
    path = f"/api/rest/scheduling/realTime/activity/detail?fromTime={a}&toTime={b}"
    for http in (w1, w2):
        wait_until(lambda h=http: h.call("POST", path, {}, key=NW).json == expect, timeout=60)
        some = sorted(reducers, key=int)[::3]
        got = http.call("POST", path, {"agentIds": some}, key=NW).json
        assert got == [activity_detail(reducers[k], a, b) for k in some]
        for agent in reducers:
            st = http.call("GET", f"/v1/agents/{agent}/status", key=NW)
            assert st.status == 200 and str(st.json["agentId"]) == agent
    # the monitor's timelines too, from the reducer of whichever worker owns the agent
    cal = DayCalendar("America/Chicago")
    start, end = cal.bounds(DAY.toordinal())
    for agent in sorted(reducers, key=int)[::2]:
        want_timeline = timeline(reducers[agent], start, end, end)
        for http in (w1, w2):
            got = http.call("GET", f"/monitor/v1/agents/{agent}/timeline?date={day}",
                            key=NW).json
            for field in ("schedule", "states", "adherence", "dayStart", "dayEnd"):
                assert got[field] == want_timeline[field], (agent, field)
    for http in (w1, w2):  # each asked the other for the agents it owns
        metrics = http.call("GET", "/metrics").body.decode()
        assert 'rta_http_requests_total{method="POST",route="/internal/v1/activity",' \
               'status="200"}' in metrics


def test_a_session_made_on_one_worker_works_and_ends_on_all(service: Service) -> None:
    w1, w2 = service.http
    user, password = PASSWORDS["northwind"]
    r = w1.call("POST", "/api/rest/authorize", {"userId": user, "password": password})
    sid = r.json["sessionId"]
    cookie = {"Cookie": f"hazelcast.sessionId={sid}"}
    # at once on the other worker (it waits for its view of the sessions topic)
    assert w2.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}",
                   headers=cookie).status == 200
    assert w2.call("DELETE", "/api/rest/authorize", headers=cookie).status == 200

    def ended_on_w1() -> Any:
        return w1.call("GET", f"/api/rest/scheduling/adherence/agent?date={DAY}",
                       headers=cookie).status == 401
    wait_until(ended_on_w1, timeout=5, every=0.1)


def test_a_session_used_on_one_worker_stays_alive_on_the_other(service: Service) -> None:
    """Uses on one worker reach the others (the idle timeout here is 3 s)."""
    import time

    w1, w2 = service.http
    user, password = PASSWORDS["northwind"]
    sid = w1.call("POST", "/api/rest/authorize",
                  {"userId": user, "password": password}).json["sessionId"]
    cookie = {"Cookie": f"hazelcast.sessionId={sid}"}
    path = f"/api/rest/scheduling/adherence/agent?date={DAY}"
    for _ in range(12):  # 6 s of use on w1 only: twice the idle timeout
        assert w1.call("GET", path, headers=cookie).status == 200
        time.sleep(0.5)
    assert w2.call("GET", path, headers=cookie).status == 200
