"""The monitor page in headless Chromium (Debian's, driven by Playwright) against
`rta up --demo` on loopback: the demo's agents on the grid, an agent going out of
adherence and then alerting, its timeline against its schedule, another tenant's
page, 2,000 agents, and a page living through a worker's restart.

Screenshots are saved in ``RTA_ARTIFACTS``/monitor (tests/support/browser.py);
``docs/images/monitor.png`` in the README is ``monitor-grid.png`` of this module.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from rta.calendar import DayCalendar
from streams.api.auth import hash_api_key, hash_password
from streams.local.demo import DEMO_KEY
from tests.support.browser import (
    artifacts,
    new_page,
    sign_in_with_key,
    sign_in_with_password,
    stats,
)
from tests.support.http import Http, free_port, wait_ready
from tests.support.processes import stop_gently
from tests.support.workers import wait_for

pytestmark = pytest.mark.slow  # starts rta up, a broker, workers and a browser

CO_KEY = "co-monitor-key-0123456789"
CO_USER, CO_PASSWORD = "co-sup", "co-monitor-pass"
ALERT_AFTER = 3  # seconds: the scripted agent's alert comes quickly
DEMO_AGENTS = 40
ZONE = "America/Chicago"
HOUR = 3_600_000
STATE = "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1"


def tenants_text() -> str:
    return (f'[tenants.northwind]\ntime_zone = "{ZONE}"\n'
            f"alert_after_seconds = {ALERT_AFTER}\n"
            f'api_keys = ["{hash_api_key(DEMO_KEY)}"]\n\n'
            f'[tenants.contoso]\ntime_zone = "Europe/Berlin"\n'
            f'api_keys = ["{hash_api_key(CO_KEY)}"]\n'
            f'users = [{{ user_id = "{CO_USER}", password = '
            f'"{hash_password(CO_PASSWORD, b"monitor-salt-16b", 1000)}" }}]\n')


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    api: Http
    out: Path

    @property
    def base(self) -> str:
        return self.api.base


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`rta up --demo` as a newcomer runs it, with a tenants file of two tenants."""
    tmp = tmp_path_factory.mktemp("monitor")
    tenants = tmp / "tenants.toml"
    tenants.write_text(tenants_text())
    port = free_port()
    out = tmp / "up.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "up", "--demo", "--demo-agents",
         str(DEMO_AGENTS), "--no-history", "--tenants", str(tenants), "--web-port", str(port),
         "--data-dir", str(tmp / "var")],
        stdout=open(out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: SIM115
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "RTA_BROKER_SESSION_TIMEOUT": "1.5",
             "RTA_BROKER_HEARTBEAT_INTERVAL": "0.3"})
    try:
        wait_for(lambda: "rta is up." in out.read_text() or proc.poll() is not None,
                 timeout=90, every=0.3)
        assert "rta is up." in out.read_text(), out.read_text()[-3000:]
        assert f"monitor:  http://127.0.0.1:{port}/monitor" in out.read_text()
        api = Http(f"http://127.0.0.1:{port}")
        wait_ready(api)
        # the demo's centre is on the views (its backlog takes a moment)
        wait_for(lambda: len(snapshot(api, DEMO_KEY)["agents"]) >= DEMO_AGENTS, timeout=120,
                 every=1)
        yield Up(proc, api, out)
    finally:
        stop_gently(proc)


def snapshot(api: Http, key: str) -> dict[str, Any]:
    r = api.call("GET", "/monitor/v1/snapshot", key=key)
    return dict(r.json) if r.status == 200 else {"agents": []}


def now_ms() -> int:
    return int(time.time() * 1000)


def grid_ids(page: Any) -> dict[str, str]:
    """The agents drawn on the grid: id -> adherence class."""
    return dict(page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('#grid [data-agent-id]')]
          .map(e => [e.dataset.agentId, e.dataset.adherence]))"""))


def find(page: Any, text: str) -> None:
    page.fill("#search", text)


def schedule_of(agent: int, start: int) -> dict[str, Any]:
    return {"agentId": agent, "acdAgentId": f"scripted-{agent}", "agentName": "Scripted Agent",
            "team": "Escalations", "fromTimestamp": start - 12 * HOUR,
            "toTimestamp": start + 12 * HOUR, "activities": [
                {"activityType": "IN_SERVICE", "startTime": start - HOUR, "endTime": start + HOUR},
                {"activityType": "BREAK", "startTime": start + HOUR,
                 "endTime": start + HOUR + 900_000},
                {"activityType": "IN_SERVICE", "startTime": start + HOUR + 900_000,
                 "endTime": start + 3 * HOUR}]}


def send_state(api: Http, key: str, acd: str, state: int, ts: int, reason: Any = None) -> None:
    r = api.call("POST", STATE, [{"acdAgentId": acd, "gisStateIdentifier": state,
                                  "timestamp": ts, "reasonCode": reason}], key=key)
    assert r.status == 200, r.body


# ---------------------------------------------------------------------- the tests
def test_the_grid_shows_the_demo_centre(up: Up, browser: Any) -> None:
    page = new_page(browser, up.base)
    sign_in_with_key(page, DEMO_KEY)
    snap = snapshot(up.api, DEMO_KEY)
    ids = {str(a["agentId"]) for a in snap["agents"]}
    wait_for(lambda: stats(page)["agents"] >= len(ids), timeout=10, every=0.2)
    drawn = grid_ids(page)
    assert drawn and set(drawn) <= {str(a["agentId"]) for a in snapshot(up.api, DEMO_KEY)[
        "agents"]}
    assert page.inner_text("#tenant").strip() == "northwind"
    # teams from the schedules; a team filter keeps that team's agents only
    teams = {a["team"] for a in snap["agents"] if a.get("team")}
    assert len(teams) >= 2, teams
    team = sorted(teams)[0]
    page.select_option("#filter-team", team)
    members = {str(a["agentId"]) for a in snapshot(up.api, DEMO_KEY)["agents"]
               if a.get("team") == team}
    wait_for(lambda: grid_ids(page) and set(grid_ids(page)) <= members, timeout=5, every=0.2)
    page.select_option("#filter-team", "")
    # every second the clock and the times in state move in the browser
    first = page.inner_text("#clock")
    wait_for(lambda: page.inner_text("#clock") != first, timeout=5, every=0.2)
    page.wait_for_timeout(1500)  # the tiles settle after the first frames
    page.screenshot(path=str(artifacts() / "monitor-grid.png"))
    assert page.errors == []


def test_an_agent_going_out_turns_out_within_2_s_then_alerts(up: Up, browser: Any) -> None:
    api, agent, acd = up.api, 9001, "scripted-9001"
    start = now_ms()
    assert api.call("POST", "/v1/schedules", schedule_of(agent, start), key=DEMO_KEY).status == 200
    send_state(api, DEMO_KEY, acd, 3, start - 20 * 60_000)  # READY since 20 minutes
    page = new_page(browser, up.base)
    sign_in_with_key(page, DEMO_KEY)
    find(page, "Scripted")
    tile = f'#grid [data-agent-id="{agent}"]'
    page.wait_for_selector(f'{tile}[data-adherence="in"]', timeout=30_000)
    sent = time.monotonic()
    send_state(api, DEMO_KEY, acd, 2, now_ms(), 7)  # not ready, reason 7: OUT
    page.wait_for_selector(f'{tile}:is([data-adherence="out"], [data-adherence="alert"])',
                           timeout=2_000)
    turned = time.monotonic() - sent
    # then the engine's alert, in the list and on the tile
    page.wait_for_selector(f'#alerts [data-alert-id^="northwind:{agent}:"]'
                           f'[data-alert-type="ALERT_STARTED"]', timeout=ALERT_AFTER * 1000 + 10_000)
    page.wait_for_selector(f'{tile}[data-adherence="alert"]', timeout=5_000)
    page.screenshot(path=str(artifacts() / "monitor-alert.png"))
    (artifacts() / "out-delay.json").write_text(json.dumps({"tileOutSeconds": turned}))
    # back to ready: the alert ends, the tile is in again
    send_state(api, DEMO_KEY, acd, 3, now_ms())
    page.wait_for_selector(f'{tile}[data-adherence="in"]', timeout=5_000)
    page.wait_for_selector(f'#alerts [data-alert-id^="northwind:{agent}:"]'
                           f'[data-alert-type="ALERT_ENDED"]', timeout=10_000)
    assert page.errors == []


def test_the_timeline_draws_the_schedule_against_the_states(up: Up, browser: Any) -> None:
    api, agent, acd = up.api, 9002, "scripted-9002"
    start = now_ms()
    _, ds, _ = DayCalendar(ZONE).day(start)
    if start - ds < 35 * 60_000:  # the scripted half hour would begin yesterday
        pytest.skip("within 35 minutes of the tenant's midnight: run it again later")
    sched = schedule_of(agent, start)
    sched["acdAgentId"] = acd
    assert api.call("POST", "/v1/schedules", sched, key=DEMO_KEY).status == 200
    send_state(api, DEMO_KEY, acd, 3, start - 30 * 60_000)
    send_state(api, DEMO_KEY, acd, 4, start - 10 * 60_000)
    send_state(api, DEMO_KEY, acd, 2, start - 5 * 60_000, 7)
    page = new_page(browser, up.base)
    sign_in_with_key(page, DEMO_KEY)
    find(page, "9002")
    tile = f'#grid [data-agent-id="{agent}"]'
    page.wait_for_selector(f'{tile}:is([data-adherence="out"], [data-adherence="alert"])',
                           timeout=30_000)
    page.click(tile)
    page.wait_for_selector(f'#timeline[data-agent-id="{agent}"] [data-kind="out"]',
                           timeout=10_000)
    cal = DayCalendar(ZONE)
    _, ds, de = cal.day(start)
    box = page.eval_on_selector("#timeline", "e => [+e.dataset.dayStart, +e.dataset.dayEnd]")
    assert box == [ds, de]
    drawn = page.eval_on_selector_all('#timeline [data-kind="schedule"]', """es => es.map(e =>
        [+e.dataset.start, +e.dataset.end, e.dataset.label, parseFloat(e.style.left),
         parseFloat(e.style.width)])""")
    want = [(max(a["startTime"], ds), min(a["endTime"], de), a["activityType"])
            for a in sched["activities"] if a["startTime"] < de and a["endTime"] > ds]
    assert [(s, e, label) for s, e, label, _, _ in drawn] == want
    for s, e, _, left, width in drawn:  # placed on the day's scale (23 to 25 hours)
        assert abs(left - 100 * (s - ds) / (de - ds)) < 0.05
        assert abs(width - 100 * (e - s) / (de - ds)) < 0.05
    states = page.eval_on_selector_all('#timeline [data-kind="state"]', """es => es.map(e =>
        [+e.dataset.start, e.dataset.label])""")
    assert [label for t, label in states if t >= max(ds, start - 30 * 60_000)][:3] == [
        "READY", "TALKING", "NOT_READY"]
    outs = page.eval_on_selector_all('#timeline [data-kind="out"]', """es => es.map(e =>
        [+e.dataset.start, +e.dataset.end])""")
    # out while logged out in service (from the shift's start to the login), and from
    # the not-ready on
    first = max(ds, start - HOUR)  # (the day may have begun since)
    assert [s for s, _ in outs if s >= first] == [first, start - 5 * 60_000]
    assert [e for s, e in outs if s == first] == [start - 30 * 60_000]
    page.screenshot(path=str(artifacts() / "monitor-timeline.png"))
    assert page.errors == []


def test_hour_marks_on_the_days_the_clocks_change(up: Up, browser: Any) -> None:
    page = new_page(browser, up.base)
    page.goto("/monitor")
    cal = DayCalendar(ZONE)
    for day, hours in ((date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 6, 1), 24)):
        ds, de = cal.bounds(day.toordinal())
        assert de - ds == hours * HOUR
        ticks = page.evaluate("([a, b, z]) => window.RTAMonitor.hourTicks(a, b, z)",
                              [ds, de, ZONE])
        inside = [t for t in ticks if ds <= t["at"] < de]
        assert [t["at"] for t in inside] == [ds + i * HOUR for i in range(hours)]
        hours_shown = [int(re.sub(r"\D", "", t["label"]) or -1) % 12 for t in inside]
        if hours == 23:  # 2 o'clock never happened
            assert 2 not in hours_shown[:4], [t["label"] for t in inside[:4]]
        if hours == 25:  # 1 o'clock happened twice
            assert hours_shown[:4].count(1) == 2, [t["label"] for t in inside[:4]]


def test_a_page_sees_its_own_tenant_only(up: Up, browser: Any) -> None:
    api = up.api
    start = now_ms()
    body = {**schedule_of(5001, start), "acdAgentId": "co-5001", "agentName": "Contoso Agent"}
    assert api.call("POST", "/v1/schedules", body, key=CO_KEY).status == 200
    send_state(api, CO_KEY, "co-5001", 3, start - 60_000)
    page = new_page(browser, up.base)
    sign_in_with_password(page, CO_USER, CO_PASSWORD)
    page.wait_for_selector('#grid [data-agent-id="5001"]', timeout=30_000)
    assert page.inner_text("#tenant").strip() == "contoso"
    northwind = {str(a["agentId"]) for a in snapshot(api, DEMO_KEY)["agents"]}
    send_state(api, DEMO_KEY, "scripted-9001", 4, now_ms())  # northwind moves meanwhile
    page.wait_for_timeout(1500)
    assert set(grid_ids(page)) == {"5001"}
    assert stats(page)["agents"] == 1
    held = page.evaluate("JSON.stringify(window.RTAMonitor.store)")
    assert not any(f'"agentId":{a},' in held or f'"agentId":"{a}"' in held
                   for a in northwind), "a northwind agent reached the contoso page"
    assert "northwind" not in page.content()
    page.screenshot(path=str(artifacts() / "monitor-contoso.png"))
    assert page.errors == []


def synthetic_centre(n: int, now: int) -> dict[str, Any]:
    teams = ["Billing", "Tech Support", "Sales", "Chat Care", "Overnight"]
    states = ["READY", "TALKING", "HOLD", "WORK_NOT_READY", "NOT_READY", "LOGOUT"]
    agents = []
    for i in range(n):
        adh = ["IN", "IN", "IN", "OUT", "NEUTRAL", "UNSCHEDULED"][i % 6]
        agents.append({"tenantId": "northwind", "agentId": 20000 + i, "acdAgentId": str(i),
                       "agentName": f"Agent {i:04d}", "team": teams[i % 5],
                       "state": states[i % 6], "reasonCode": None, "since": now - i * 1000,
                       "loggedIn": states[i % 6] != "LOGOUT", "activity": "IN_SERVICE",
                       "activityCategory": "IN_SERVICE", "activityStart": now - HOUR,
                       "activityEnd": now + HOUR, "adherence": adh,
                       "outOfAdherenceSince": now - i * 100 if adh == "OUT" else None,
                       "chatCapacity": None, "chatsInProgress": None, "asOf": now})
    return {"tenant": {"id": "northwind", "timeZone": ZONE, "alertAfterSeconds": 60,
                       "alertThresholds": {"IN_SERVICE": 60, "BREAK": 60, "OFF_PHONE": 60,
                                           "OFF": 60}},
            "now": now, "date": "2026-12-07", "agents": agents, "summaries": [], "alerts": []}


def test_two_thousand_agents_are_drawn_virtualised(up: Up, browser: Any) -> None:
    """The page on a 2,000-agent centre with 2,000 updates coming: the grid draws only
    what is on screen; the figures (frame and render times) are written as an artefact,
    not asserted (they are the machine's)."""
    now = now_ms()
    centre = synthetic_centre(2000, now)
    updates = b"".join(
        b"event: status\ndata: " + orjson.dumps({**centre["agents"][i % 2000], "state": "HOLD",
                                                 "since": now + i}) + b"\n\n"
        for i in range(2000))
    stream = b"retry: 1000\n\nevent: snapshot\ndata: " + orjson.dumps(centre) + b"\n\n" + updates
    page = new_page(browser, up.base, 1920, 1080)
    page.route("**/monitor/v1/snapshot", lambda route: route.fulfill(
        status=200, content_type="application/json", body=orjson.dumps(centre)))
    page.route("**/monitor/v1/events", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=stream))
    page.goto("/monitor")
    wait_for(lambda: stats(page)["agents"] == 2000, timeout=20, every=0.2)
    page.wait_for_timeout(1000)
    first = stats(page)
    assert 0 < first["rendered"] < 300, first  # virtualised: not 2,000 nodes
    assert page.evaluate("document.querySelectorAll('#grid [data-agent-id]').length") == \
        first["rendered"]
    # frames while scrolling through all of it
    frames = page.evaluate("""async () => {
        const box = document.getElementById('grid-scroll'), times = [];
        let last = performance.now();
        for (let i = 0; i < 60; i++) {
            box.scrollTop = (box.scrollHeight - box.clientHeight) * (i / 59);
            await new Promise(r => requestAnimationFrame(r));
            const t = performance.now(); times.push(t - last); last = t;
        }
        return times; }""")
    bottom = grid_ids(page)
    assert bottom and all(20000 <= int(a) < 22000 for a in bottom)
    after = stats(page)
    assert after["rendered"] < 300
    figures = {"agents": 2000, "rendered": after["rendered"],
               "lastRenderMs": after["lastRenderMs"], "maxRenderMs": after["maxRenderMs"],
               "renders": after["renders"], "scrollFrameMsMedian": sorted(frames)[30],
               "scrollFrameMsMax": max(frames)}
    (artifacts() / "two-thousand.json").write_text(json.dumps(figures, indent=1))
    print("monitor, 2,000 agents:", figures)
    page.screenshot(path=str(artifacts() / "monitor-2000.png"))
    assert page.errors == []


def test_a_page_lives_through_a_worker_restart(browser: Any, broker: Any, workers: Any,
                                               tmp_path: Path) -> None:
    """The worker the page talks to stops and starts again (same address): the page
    keeps its grid, says it is reconnecting, and takes updates again afterwards."""
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(tenants_text())
    port = free_port()
    env = {"RTA_WEB_PORT": str(port)}
    worker = workers(tenants, "w1", env)
    api = Http(f"http://127.0.0.1:{port}")
    wait_ready(api)
    start = now_ms()
    assert api.call("POST", "/v1/schedules", schedule_of(9101, start), key=DEMO_KEY).status == 200
    send_state(api, DEMO_KEY, "scripted-9101", 3, start - 60_000)
    page = new_page(browser, api.base)
    sign_in_with_key(page, DEMO_KEY)
    tile = '#grid [data-agent-id="9101"]'
    page.wait_for_selector(f'{tile}[data-adherence="in"]', timeout=30_000)
    worker.kill(signal.SIGKILL)
    page.wait_for_selector("#connection[data-state=reconnecting]", timeout=15_000)
    assert grid_ids(page) == {"9101": "in"}  # not blanked
    page.screenshot(path=str(artifacts() / "monitor-reconnecting.png"))
    workers(tenants, "w1", env)
    wait_ready(api)
    page.wait_for_selector("#connection[data-state=live]", timeout=30_000)
    send_state(api, DEMO_KEY, "scripted-9101", 2, now_ms(), 7)
    page.wait_for_selector(f'{tile}:is([data-adherence="out"], [data-adherence="alert"])',
                           timeout=15_000)
    assert page.errors == [] or all("events" in e or "ERR_" in e for e in page.errors), \
        page.errors
