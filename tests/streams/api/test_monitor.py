"""The monitor's HTTP side (streams/api/monitor.py) on the fake backend: the page and
its files, signing in with a key, the snapshot, the event stream and the timeline,
each for its own tenant only. (The page itself in a browser, against the running
engine: tests/streams/api/test_monitor_browser.py.)"""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from streams.api import monitor
from streams.api.feed import LiveFeed
from tests.support.fake_backend import FakeService
from tests.support.http import KEYS, PASSWORDS, Http

NW, CO = KEYS["northwind"], KEYS["contoso"]


def status(tenant: str, agent: int, adherence: str = "IN", **more: Any) -> dict[str, Any]:
    return {"tenantId": tenant, "agentId": agent, "acdAgentId": f"a{agent}",
            "agentName": f"Agent {agent}", "team": "Billing", "state": "READY",
            "since": 1, "loggedIn": True, "adherence": adherence,
            "outOfAdherenceSince": None, **more}


@pytest.fixture
def fake(fake_service: FakeService) -> Iterator[FakeService]:
    b = fake_service.backend
    b.statuses.clear()
    b.days.clear()
    b.alerts.clear()
    b.timelines.clear()
    b.statuses[("northwind", "7")] = status("northwind", 7)
    b.statuses[("contoso", "9")] = status("contoso", 9, "OUT")
    b.alerts["contoso"] = [{"type": "ALERT_STARTED", "alertId": "contoso:9:1", "agentId": 9,
                            "tenantId": "contoso", "start": 1, "end": None}]
    yield fake_service


def cookie_of(reply: Any) -> dict[str, str]:
    sid = reply.headers["Set-Cookie"].split(";")[0]
    return {"Cookie": sid}


def today(fake: FakeService, tenant: str) -> str:
    snap = fake.api.call("GET", "/monitor/v1/snapshot", key=KEYS[tenant]).json
    return str(snap["date"])


# ---------------------------------------------------------------------- the page
def test_root_redirects_to_the_page_which_loads_nothing_from_elsewhere(
        fake: FakeService) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    conn.request("GET", "/")
    r = conn.getresponse()
    assert (r.status, r.getheader("Location")) == (302, "/monitor")
    page = fake.api.call("GET", "/monitor")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    html = page.body.decode()
    for name in ("monitor.css", "monitor.js"):
        assert f"/monitor/static/{name}" in html
        got = fake.api.call("GET", f"/monitor/static/{name}")
        assert got.status == 200 and got.body
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "https://" not in fake.api.call("GET", "/monitor/static/monitor.js").body.decode()


@pytest.mark.parametrize("path", ["/monitor/static/app.py", "/monitor/static/..%2Fapp.py",
                                  "/monitor/static/%2E%2E%2Fmonitor.py"])
def test_only_the_page_files_are_served(fake: FakeService, path: str) -> None:
    assert fake.api.call("GET", path).status == 404


# ---------------------------------------------------------------------- sign-in
def test_a_key_signs_in_for_a_session_cookie_that_signing_out_ends(fake: FakeService) -> None:
    api = fake.api
    assert api.call("GET", "/monitor/v1/snapshot").status == 401
    assert api.call("POST", "/monitor/v1/signin", {"apiKey": "wrong"}).status == 401
    assert api.call("POST", "/monitor/v1/signin", {"key": NW}).status == 400
    # a form of another site cannot sign a browser in (only JSON is taken)
    form = api.call("POST", "/monitor/v1/signin", raw=b'{"apiKey": "%s"}' % NW.encode(),
                    headers={"Content-Type": "text/plain"})
    assert form.status == 415 and "Set-Cookie" not in form.headers
    r = api.call("POST", "/monitor/v1/signin", {"apiKey": NW})
    assert r.status == 200 and r.json["tenantId"] == "northwind"
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert NW not in set_cookie
    jar = cookie_of(r)
    snap = api.call("GET", "/monitor/v1/snapshot", headers=jar)
    assert snap.status == 200 and snap.json["tenant"]["id"] == "northwind"
    assert api.call("POST", "/monitor/v1/signout", headers=jar).json == {"ended": True}
    assert api.call("GET", "/monitor/v1/snapshot", headers=jar).status == 401


def test_user_and_password_sign_in_too(fake: FakeService) -> None:
    user, password = PASSWORDS["contoso"]
    r = fake.api.call("POST", "/api/rest/authorize", {"userId": user, "password": password})
    snap = fake.api.call("GET", "/monitor/v1/snapshot", headers=cookie_of(r)).json
    assert snap["tenant"]["id"] == "contoso"


# ---------------------------------------------------------------------- snapshot
def test_the_snapshot_is_the_tenants_own(fake: FakeService) -> None:
    b = fake.backend
    day = today(fake, "northwind")
    b.days[("northwind", day)] = {"7": {"agentId": 7, "date": day, "scheduleAdherence": 90.0,
                                        "details": [{"big": "x" * 100}]}}
    nw = fake.api.call("GET", "/monitor/v1/snapshot", key=NW).json
    assert [a["agentId"] for a in nw["agents"]] == [7]
    assert nw["alerts"] == []
    assert nw["summaries"][0]["scheduleAdherence"] == 90.0
    assert "details" not in nw["summaries"][0]  # the short form
    assert nw["tenant"]["timeZone"] == "America/Chicago"
    assert set(nw["tenant"]["alertThresholds"]) == {"IN_SERVICE", "BREAK", "OFF_PHONE", "OFF"}
    co = fake.api.call("GET", "/monitor/v1/snapshot", key=CO).json
    assert [a["agentId"] for a in co["agents"]] == [9]
    assert [a["alertId"] for a in co["alerts"]] == ["contoso:9:1"]
    assert co["summaries"] == []


def test_the_date_is_today_in_the_tenants_zone(fake: FakeService) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    for tenant, zone in (("northwind", "America/Chicago"), ("contoso", "Europe/Berlin")):
        snap = fake.api.call("GET", "/monitor/v1/snapshot", key=KEYS[tenant]).json
        want = datetime.fromtimestamp(snap["now"] / 1000, ZoneInfo(zone)).date().isoformat()
        assert snap["date"] == want


def test_no_snapshot_while_the_views_catch_up(fake: FakeService) -> None:
    from streams.api.ports import Unavailable

    fake.backend.fail_next(Unavailable("still reading"))
    r = fake.api.call("GET", "/monitor/v1/snapshot", key=NW)
    assert r.status == 503 and r.headers["Retry-After"] == "1"


# ---------------------------------------------------------------------- events
def parse_events(raw: bytes) -> list[tuple[str, Any]]:
    """Server-sent events as (event, parsed data)."""
    out = []
    for block in raw.split(b"\n\n"):
        name, data = "message", None
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = orjson.loads(line[6:])
        if data is not None:
            out.append((name, data))
    return out


class Stream:
    """An open event stream, read on a socket as it comes."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"GET /monitor/v1/events HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
        self.raw = b""

    def read_until(self, want: Any, timeout: float = 10) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = parse_events(self.raw.split(b"\r\n\r\n", 1)[-1].replace(b"\r\n", b"\n"))
            if want(events):
                return events
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.raw += chunk
        return parse_events(self.raw.split(b"\r\n\r\n", 1)[-1].replace(b"\r\n", b"\n"))

    @property
    def head(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0]

    def close(self) -> None:
        self.sock.close()


def publish(fake: FakeService, tenant: str, event: str, data: dict[str, Any]) -> None:
    assert fake._loop is not None
    fake._loop.call_soon_threadsafe(fake.backend.feed.publish, tenant, event,
                                    orjson.dumps(data))


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [e for e, _ in events]


def test_the_stream_starts_with_a_snapshot_then_only_the_tenants_updates(
        fake: FakeService) -> None:
    s = Stream(fake.port, {"x-api-key": NW})
    try:
        first = s.read_until(lambda ev: "snapshot" in names(ev))
        assert b"text/event-stream" in s.head
        assert first[0][0] == "snapshot"
        assert [a["agentId"] for a in first[0][1]["agents"]] == [7]
        assert b"retry: 1000" in s.raw
        deadline = time.monotonic() + 10
        while not fake.backend.feed.wants("northwind") and time.monotonic() < deadline:
            time.sleep(0.02)
        publish(fake, "contoso", "status", status("contoso", 9, "IN"))
        publish(fake, "northwind", "status", status("northwind", 7, "OUT"))
        publish(fake, "contoso", "alert", {"alertId": "contoso:9:2"})
        publish(fake, "northwind", "alert", {"alertId": "northwind:7:5"})
        got = s.read_until(lambda ev: ("alert", {"alertId": "northwind:7:5"}) in ev)
        assert [e for e in got[1:] if e[0] != "heartbeat"] == [
            ("status", status("northwind", 7, "OUT")), ("alert", {"alertId": "northwind:7:5"})]
    finally:
        s.close()
    deadline = time.monotonic() + 10  # a closed page's subscription goes away
    while fake.backend.feed.wants("northwind") and time.monotonic() < deadline:
        publish(fake, "northwind", "heartbeat", {})
        time.sleep(0.1)
    assert not fake.backend.feed.wants("northwind")


def test_the_stream_ends_when_the_session_does(fake: FakeService,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor, "HEARTBEAT_SECONDS", 0.3)
    r = fake.api.call("POST", "/monitor/v1/signin", {"apiKey": CO})
    jar = cookie_of(r)
    s = Stream(fake.port, jar)
    try:
        assert names(s.read_until(lambda ev: "heartbeat" in names(ev)))[:2] == [
            "snapshot", "heartbeat"]
        Http(fake.api.base).call("POST", "/monitor/v1/signout", headers=jar)
        got = s.read_until(lambda ev: "signedout" in names(ev))
        assert names(got)[-1] == "signedout"
    finally:
        s.close()


def test_an_unsigned_stream_is_refused(fake: FakeService) -> None:
    assert fake.api.call("GET", "/monitor/v1/events").status == 401


def test_a_slow_reader_is_cut_off_not_buffered_without_limit() -> None:
    async def run() -> None:
        feed = LiveFeed(limit=3)
        sub = feed.subscribe("t")
        other = feed.subscribe("u")
        for i in range(3):
            feed.publish("t", "status", b"%d" % i)
        assert await sub.take(0) == [("status", b"0"), ("status", b"1"), ("status", b"2")]
        for i in range(4):
            feed.publish("t", "status", b"%d" % i)
        assert sub.overflowed and await sub.take(0) == []
        assert await other.take(0.01) == []  # another tenant's saw nothing
        sub.close()
        other.close()
        assert not feed.wants("t") and feed.count() == 0

    asyncio.run(run())


def test_stopping_ends_every_stream() -> None:
    async def run() -> None:
        feed = LiveFeed()
        subs = [feed.subscribe("t"), feed.subscribe("u")]
        waiting = asyncio.gather(*(s.take(30) for s in subs))
        await asyncio.sleep(0)
        feed.close_all()
        assert await asyncio.wait_for(waiting, 1) == [[], []]
        assert all(s.closed for s in subs) and feed.count() == 0

    asyncio.run(run())


# ---------------------------------------------------------------------- timeline
def test_a_timeline_is_asked_for_a_day_of_the_tenants(fake: FakeService) -> None:
    from datetime import date, timedelta

    from rta.calendar import DayCalendar

    b = fake.backend
    b.timelines["northwind"] = [{"agentId": 7, "schedule": [], "states": [],
                                 "adherence": []}]
    b.activity_calls.clear()
    day = today(fake, "northwind")
    cal = DayCalendar("America/Chicago")
    for d in (day, (date.fromisoformat(day) - timedelta(days=31)).isoformat()):
        r = fake.api.call("GET", f"/monitor/v1/agents/7/timeline?date={d}", key=NW)
        assert r.status == 200
        assert r.json["date"] == d and r.json["timeZone"] == "America/Chicago"
        assert r.json["agentId"] == "7"
        _, ids, start, end = b.activity_calls[-1]
        assert ids == ["7"] and (start, end) == cal.bounds(date.fromisoformat(d).toordinal())
    assert fake.api.call("GET", "/monitor/v1/agents/7/timeline", key=NW).json["date"] == day
    # another tenant's agent is no agent here
    assert fake.api.call("GET", "/monitor/v1/agents/7/timeline", key=CO).status == 404
    bad = fake.api.call("GET", "/monitor/v1/agents/7/timeline?date=2026-13-01", key=NW)
    assert bad.status == 400 and "date" in bad.json["error"]["message"]


@pytest.mark.parametrize("d", ["0001-01-01", "1969-12-31", "9999-12-31", "-32", "2"])
def test_a_timeline_of_a_day_not_kept_is_refused_at_once(fake: FakeService, d: str) -> None:
    """Far days are refused before any calendar is asked (year 1 once hung the
    worker: the day's bounds looked for a minute before the calendar's start)."""
    from datetime import date, timedelta

    day = date.fromisoformat(today(fake, "northwind"))
    when = {"-32": (day - timedelta(days=32)).isoformat(),
            "2": (day + timedelta(days=2)).isoformat()}.get(d, d)
    r = fake.api.call("GET", f"/monitor/v1/agents/7/timeline?date={when}", key=NW,
                      timeout=10)
    assert r.status == 400 and "timeline is of the last 31 days" in r.json["error"]["message"]


def test_workers_ask_one_another_for_timelines_and_say_which(fake: FakeService) -> None:
    """The internal request names its view and the answer echoes it: a worker of an
    earlier version, which answers Real-Time Agent States whatever it is asked, is
    told apart (a 503 to retry, not an empty timeline)."""
    b = fake.backend
    b.timelines["northwind"] = [{"agentId": 7, "schedule": []}]
    b.activities["northwind"] = [{"agentId": 7, "realTimeActivities": []}]

    def ask(view: Any) -> Any:
        body = orjson.dumps({"tenant": "northwind", "agentIds": ["7"], "fromTime": 0,
                             "toTime": 86_400_000, "sentAt": int(time.time() * 1000),
                             **({} if view is None else {"view": view})})
        return fake.api.call("POST", "/internal/v1/activity", raw=body, headers={
            "Content-Type": "application/json",
            "x-rta-cluster": b.cluster_signature(body)})

    assert ask("timeline").json["view"] == "timeline"
    assert ask("timeline").json["agents"] == [{"agentId": 7, "schedule": []}]
    assert ask(None).json["view"] == "rtas"  # as earlier versions ask
    assert "realTimeActivities" in ask(None).json["agents"][0]
    bad = ask("everything")
    assert bad.status == 400 and "unknown view" in bad.json["error"]["message"]


def test_a_stopping_worker_opens_no_stream() -> None:
    from streams.api.ports import Unavailable

    feed = LiveFeed()
    feed.close_all()
    with pytest.raises(Unavailable):
        feed.subscribe("t")
