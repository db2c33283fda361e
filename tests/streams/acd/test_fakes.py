"""The loopback ACD platforms (tests/support/fake_ccai, fake_omni) keep their contract,
and the simulated centre's renderings (tests/support/acd_sim) read back to its canonical
events."""

from __future__ import annotations

import base64
import itertools
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from rta.states import LOGOUT, NOT_READY, READY, TALKING, WORK_READY
from streams.local.acd_sim import (
    OmniRows,
    ccai_day,
    ccai_view_at,
    omni_day,
    omni_dst_rows,
    omni_midnight_rows,
    omni_paging_rows,
    omni_view_at,
    to_ccai_logs,
    to_omni_canonical,
    to_omni_rows,
)
from streams.local.fake_ccai import (
    CURRENT,
    DEFAULT_STATUSES,
    LOGS,
    STATUSES,
    Breakage,
    FakeCcai,
    format_time,
    parse_time,
)
from streams.local.fake_omni import ACTIVITY, DASHBOARD, LOGIN_API, LOGIN_ORG, FakeOmni
from streams.local.fake_omni import Breakage as RowBreakage

SORT = {"sort_column": "started_at", "sort_direction": "ASC"}
FROM = "2026-03-07T00:00:00.000Z"
LOCAL = "%Y-%m-%d %H:%M:%S"


# ---------------------------------------------------------------------- HTTP
def call(method: str, url: str, headers: dict[str, str] | None = None,
         body: Any = None) -> tuple[int, Any, Any]:
    data = None if body is None else orjson.dumps(body)
    hdrs = dict(headers or {})
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, err.headers, orjson.loads(raw) if raw else None


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = basic("acme", "ccai-secret-token")


def logs_url(fake: FakeCcai, **params: Any) -> str:
    return f"{fake.url}{LOGS}?{urllib.parse.urlencode({**SORT, **params})}"


@pytest.fixture
def ccai() -> Iterator[FakeCcai]:
    fake = FakeCcai(rate_per_second=10_000.0).start()
    yield fake
    fake.stop()


@pytest.fixture
def omni() -> Iterator[FakeOmni]:
    fake = FakeOmni().start()
    yield fake
    fake.stop()


KEY = {"x-api-key": "omni-key"}
CREDS = {"login": "rta@acme.example", "password": "omni-pw"}


def report_token(fake: FakeOmni, org: str = "org-1") -> str:
    status, _, body = call("POST", fake.url + LOGIN_ORG, KEY, {**CREDS, "organization": org})
    assert status == 200, body
    return str(body["token"])


def activity(fake: FakeOmni, token: str | None, **params: Any) -> tuple[int, Any, Any]:
    headers = dict(KEY)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call("GET", f"{fake.url}{ACTIVITY}?{urllib.parse.urlencode(params)}", headers)


# ---------------------------------------------------------------------- readers
WFM_STATE = {11: READY, 34: TALKING, 33: WORK_READY, 36: LOGOUT}


def key(events: list[dict[str, Any]]) -> list[tuple[int, str, int, Any]]:
    return sorted((e["timestamp"], e["acdAgentId"], e["gisStateIdentifier"], e["reasonCode"])
                  for e in events)


def read_ccai(records: list[dict[str, Any]]) -> list[tuple[int, str, int, Any]]:
    """What a connector recovers from activity logs: each user_status_changed."""
    out = []
    for rec in records:
        if rec["activity"] != "user_status_changed":
            continue
        wfm = rec["status"]["wfm_id"]
        state = WFM_STATE.get(wfm, NOT_READY)
        out.append((parse_time(rec["started_at"]), str(rec["agent_id"]), state,
                    wfm if state == NOT_READY else None))
    return sorted(out)


def local_ms(text: str, zone: ZoneInfo) -> int:
    return int(datetime.strptime(text, LOCAL).replace(tzinfo=zone).timestamp() * 1000)


def read_omni(rows: list[dict[str, Any]], time_zone: str) -> list[tuple[int, str, int, Any]]:
    """What a connector recovers from activity-history rows."""
    zone = ZoneInfo(time_zone)
    logouts: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if row["evento"] == "Login" and row["data_fim"] is not None:
            logouts[row["agent"]].add(local_ms(row["data_fim"], zone))
    out = []
    for row in rows:
        who = "username:" + row["agent"]
        start = local_ms(row["data_inicio"], zone)
        end = None if row["data_fim"] is None else local_ms(row["data_fim"], zone)
        if row["evento"] == "Login":
            out.append((start, who, READY, None))
            if end is not None:
                out.append((end, who, LOGOUT, None))
        else:
            out.append((start, who, NOT_READY, row["evento"]))
            if end is not None and end not in logouts[row["agent"]]:
                out.append((end, who, READY, None))
    return sorted(out)


# ---------------------------------------------------------------------- CCAI fake
def test_ccai_basic_auth_every_request(ccai: FakeCcai) -> None:
    for headers in ({}, basic("acme", "wrong"), basic("other", "ccai-secret-token"),
                    {"Authorization": "Bearer ccai-secret-token"}):
        status, hdrs, _ = call("GET", ccai.url + STATUSES, headers)
        assert status == 401 and "Basic" in hdrs["WWW-Authenticate"]
    assert call("GET", ccai.url + STATUSES, AUTH)[0] == 200
    assert call("GET", ccai.url + CURRENT, AUTH)[0] == 200
    assert ccai.unauthorized == 4
    assert ccai.requests[STATUSES] == 5 and ccai.requests[CURRENT] == 1
    assert len(ccai.accepted_times) == 2  # a 401 is not accepted


def test_ccai_rate_limit_429_and_spacing() -> None:
    fake = FakeCcai().start()  # 1 request per second
    try:
        assert call("GET", fake.url + STATUSES, AUTH)[0] == 200
        status, headers, _ = call("GET", fake.url + STATUSES, AUTH)
        assert status == 429 and headers["Retry-After"] == "1"
        assert call("GET", fake.url + CURRENT, basic("acme", "x"))[0] == 401  # not throttled
        first = fake.accepted_times[0]
        # a 429 does not move the window: 1 s after the accepted one is allowed
        time.sleep(max(0.0, first + 1.0 - time.monotonic()) + 0.02)
        assert call("GET", fake.url + CURRENT, AUTH)[0] == 200
        assert call("GET", fake.url + CURRENT, AUTH)[0] == 429
        assert fake.throttled == 2 and fake.unauthorized == 1
        times = fake.accepted_times
        assert len(times) == 2 and times[1] - times[0] >= 1.0
    finally:
        fake.stop()


def _rec(started: str, rid: int | None = None, agent: int = 7, wfm: int = 11,
         activity: str = "user_status_changed") -> dict[str, Any]:
    status = next(s for s in DEFAULT_STATUSES if s["wfm_id"] == wfm)
    rec = {"agent_id": agent, "whodunnit": None, "status": dict(status), "started_at": started,
           "ended_at": None, "duration": 0, "activity": activity, "call_id": None,
           "chat_id": None}
    if rid is not None:
        rec["id"] = rid
    return rec


def test_ccai_logs_filter_sort_page_clamp() -> None:
    fake = FakeCcai(rate_per_second=10_000.0, max_per=3).start()
    try:
        ids = fake.add_logs([_rec("2026-03-07T14:00:02.000Z"), _rec("2026-03-07T14:00:01.000Z"),
                             _rec("2026-03-07T14:00:01.000Z", rid=40),
                             _rec("2026-03-07T13:59:59.999Z"), _rec("2026-03-07T14:00:03.500Z")])
        assert ids == [1, 2, 40, 41, 42]  # given ids kept, the next ones follow
        fake.add_logs([_rec("2026-03-07T14:00:01.000Z", rid=10)])

        def page(**params: Any) -> list[tuple[str, int]]:
            status, _, body = call("GET", logs_url(fake, **params), AUTH)
            assert status == 200, body
            return [(r["started_at"], r["id"]) for r in body]

        frm = "2026-03-07T14:00:00.000Z"
        assert page(**{"started_at[from]": frm}) == [  # per 100 clamped to 3
            ("2026-03-07T14:00:01.000Z", 2), ("2026-03-07T14:00:01.000Z", 10),
            ("2026-03-07T14:00:01.000Z", 40)]
        assert page(**{"started_at[from]": frm, "page": 2, "per": 50}) == [
            ("2026-03-07T14:00:02.000Z", 1), ("2026-03-07T14:00:03.500Z", 42)]
        assert page(**{"started_at[from]": frm, "page": 3}) == []
        assert page(**{"started_at[from]": frm, "per": 2, "page": 2}) == [
            ("2026-03-07T14:00:01.000Z", 40), ("2026-03-07T14:00:02.000Z", 1)]
        # bounds are inclusive; Z with or without milliseconds
        assert page(**{"started_at[from]": "2026-03-07T14:00:02Z",
                       "started_at[to]": "2026-03-07T14:00:03.500Z"}) == [
            ("2026-03-07T14:00:02.000Z", 1), ("2026-03-07T14:00:03.500Z", 42)]
        assert page(**{"started_at[from]": "2026-03-07T13:59:59.999Z", "per": 1}) == [
            ("2026-03-07T13:59:59.999Z", 41)]
        assert fake.queries[-1]["per"] == "1"
    finally:
        fake.stop()


def test_ccai_logs_bad_requests(ccai: FakeCcai) -> None:
    base = f"{ccai.url}{LOGS}?"
    cases = [{"started_at[from]": FROM},
             {"sort_column": "id", "sort_direction": "ASC", "started_at[from]": FROM},
             {**SORT, "sort_direction": "DESC", "started_at[from]": FROM},
             {**SORT, "started_at[from]": "not-a-time"},
             {**SORT},
             {**SORT, "started_at[from]": FROM, "started_at[to]": "yesterday"},
             {**SORT, "started_at[from]": FROM, "page": "0"},
             {**SORT, "started_at[from]": FROM, "per": "many"}]
    for params in cases:
        status, _, body = call("GET", base + urllib.parse.urlencode(params), AUTH)
        assert status == 400 and isinstance(body["error"], str), params


def test_ccai_statuses_current_and_updates(ccai: FakeCcai) -> None:
    status, _, body = call("GET", ccai.url + STATUSES, AUTH)
    assert status == 200 and len(body) == 11 and body == DEFAULT_STATUSES
    assert {"id": 5, "name": "Meal", "color": "green", "wfm_id": 45} in body
    ccai.set_statuses([{"id": 9, "name": "Coaching", "color": "teal", "wfm_id": 50}])
    assert call("GET", ccai.url + STATUSES, AUTH)[2][0]["name"] == "Coaching"
    current = [{"id": 7, "status": "Available", "status_id": 0,
                "status_updated_at": "2026-03-07T14:00:00.000Z", "on_hold": False,
                "on_hold_duration": 0}]
    ccai.set_current(current)
    assert call("GET", ccai.url + CURRENT, AUTH)[2] == current
    # an open status gains its end after it was read
    (rid,) = ccai.add_logs([_rec("2026-03-07T14:00:00.000Z")])
    assert call("GET", logs_url(ccai, **{"started_at[from]": FROM}), AUTH)[2][0]["ended_at"] \
        is None
    ccai.update_log(rid, ended_at="2026-03-07T14:05:00.000Z", duration=300)
    body = call("GET", logs_url(ccai, **{"started_at[from]": FROM}), AUTH)[2]
    assert (body[0]["ended_at"], body[0]["duration"]) == ("2026-03-07T14:05:00.000Z", 300)


def test_ccai_faults(ccai: FakeCcai) -> None:
    ccai.faults.fail_next = [503, 503, 500]
    ccai.faults.retry_after = 2
    got = [call("GET", ccai.url + STATUSES, AUTH) for _ in range(4)]
    assert [g[0] for g in got] == [503, 503, 500, 200]
    assert [g[1].get("Retry-After") for g in got[:3]] == ["2", "2", "2"]
    ccai.faults.retry_after = None
    ccai.faults.fail_next = [502]
    status, headers, _ = call("GET", ccai.url + STATUSES, AUTH)
    assert status == 502 and "Retry-After" not in headers

    ccai.faults.delay_seconds = 0.3
    t0 = time.monotonic()
    assert call("GET", ccai.url + CURRENT, AUTH)[0] == 200
    assert time.monotonic() - t0 >= 0.3
    ccai.faults.delay_seconds = 0.0

    ids = ccai.add_logs([_rec(f"2026-03-07T14:00:0{k}.000Z") for k in range(5)])
    ccai.faults.malformed = set(ids[:4])
    ccai.faults.breakage = {ids[1]: Breakage.NO_STATUS, ids[2]: Breakage.NULL_STATUS,
                            ids[3]: Breakage.NOT_AN_OBJECT}
    body = call("GET", logs_url(ccai, **{"started_at[from]": FROM}), AUTH)[2]
    assert body[0]["started_at"] == "not-a-time" and body[0]["id"] == ids[0]  # sorted truly
    assert "status" not in body[1] and body[2]["status"] is None
    assert body[3] == f"corrupt record {ids[3]}"
    assert body[4]["status"]["wfm_id"] == 11


# ---------------------------------------------------------------------- Omni fake
def test_omni_api_key_on_every_route(omni: FakeOmni) -> None:
    for headers in ({}, {"x-api-key": "wrong"}):
        assert call("POST", omni.url + LOGIN_API, headers, CREDS)[0] == 401
        assert call("POST", omni.url + LOGIN_ORG, headers,
                    {**CREDS, "organization": "org-1"})[0] == 401
        assert call("GET", f"{omni.url}{DASHBOARD}?organization=org-1", headers)[0] == 401
        assert call("GET", f"{omni.url}{ACTIVITY}?date_ini=2026-03-07&date_end=2026-03-07",
                    headers)[0] == 401
    assert omni.unauthorized == 8 and omni.logins_api == omni.logins_org == 0
    assert omni.requests[LOGIN_API] == 2 and omni.requests[ACTIVITY] == 2


def test_omni_login_flows_and_token_rule(omni: FakeOmni) -> None:
    status, _, body = call("POST", omni.url + LOGIN_API, KEY, CREDS)
    assert status == 200 and body["organizations"] == [{"id": "org-1", "name": "Acme"}]
    contact = body["token"]
    assert call("POST", omni.url + LOGIN_API, KEY, {**CREDS, "password": "x"})[0] == 401
    assert call("POST", omni.url + LOGIN_ORG, KEY,
                {**CREDS, "password": "x", "organization": "org-1"})[0] == 401
    assert call("POST", omni.url + LOGIN_ORG, KEY, {**CREDS, "organization": "org-9"})[0] == 404
    status, _, body = call("POST", omni.url + LOGIN_ORG, KEY, {**CREDS, "organization": "org-1"})
    assert status == 200 and body["organization"] == {"id": "org-1", "name": "Acme"}
    report = body["token"]
    assert report != contact
    assert omni.logins_api == 1 and omni.logins_org == 1

    dates = {"date_ini": "2026-03-07", "date_end": "2026-03-07"}
    before = omni.unauthorized
    assert activity(omni, None, **dates)[0] == 401
    assert activity(omni, contact, **dates)[0] == 401  # a contact token is no report token
    assert activity(omni, report, **dates)[0] == 200
    omni.expire_tokens()
    assert activity(omni, report, **dates)[0] == 401
    assert omni.unauthorized == before + 3
    assert activity(omni, report_token(omni), **dates)[0] == 200  # logged in again
    assert omni.logins_org == 2


def test_omni_report_pages_dates_and_order(omni: FakeOmni) -> None:
    fixture = omni_paging_rows()  # 2,750 rows, runs of equal data_inicio
    shuffled = fixture.rows[1::2] + fixture.rows[::2]
    omni.add_rows(shuffled)
    token = report_token(omni)
    pages = []
    for n in range(4):
        status, _, body = activity(omni, token, **{"report-skip": n, "date_ini": "2026-03-07",
                                                   "date_end": "2026-03-07"})
        assert status == 200 and body["total"] == 2750 and body["page"] == n
        pages.append(body["data"])
    assert [len(p) for p in pages] == [1000, 1000, 750, 0]
    got = [r for p in pages for r in p]
    assert got == sorted(fixture.rows, key=lambda r: (r["data_inicio"], r["id"]))
    # page boundaries cut through equal data_inicio (so the order by id matters)
    assert pages[0][-1]["data_inicio"] == pages[1][0]["data_inicio"]
    assert omni.queries[0] == {"report-skip": "0", "date_ini": "2026-03-07",
                               "date_end": "2026-03-07"}

    # without report-skip: page 0; bounds inclusive, in both formats
    status, _, body = activity(omni, token, date_ini="2026-03-07 08:05:00",
                               date_end="2026-03-07 08:15:00")
    assert status == 200 and body["page"] == 0
    assert {r["data_inicio"] for r in body["data"]} == {"2026-03-07 08:05:00",
                                                       "2026-03-07 08:15:00"}
    assert body["total"] == 550
    omni.add_rows([{**fixture.rows[0], "id": None, "data_inicio": "2026-03-07 23:59:59"},
                   {**fixture.rows[0], "id": None, "data_inicio": "2026-03-08 00:00:00"}])
    body = activity(omni, token, date_ini="2026-03-07 23:00:00", date_end="2026-03-07")[2]
    assert [r["data_inicio"] for r in body["data"]] == ["2026-03-07 23:59:59"]
    assert body["data"][0]["id"] == 2751
    for bad in ({"date_ini": "07/03/2026", "date_end": "2026-03-07"},
                {"date_ini": "2026-03-07", "date_end": "2026-03-07T10:00:00"},
                {"date_ini": "2026-03-07"},
                {"date_ini": "2026-03-07", "date_end": "2026-03-07", "report-skip": "-1"}):
        assert activity(omni, token, **bad)[0] == 400, bad


def test_omni_update_row_dashboard_and_faults(omni: FakeOmni) -> None:
    rows = to_omni_rows(omni_day(1, agents=3).canonical, "America/Sao_Paulo")
    open_row = {**rows[0], "id": None, "data_fim": None}
    (rid,) = omni.add_rows([open_row])
    token = report_token(omni)
    dates = {"date_ini": "2026-03-07", "date_end": "2026-03-08"}
    assert activity(omni, token, **dates)[2]["data"][0]["data_fim"] is None
    omni.update_row(rid, data_fim=rows[0]["data_fim"])
    assert activity(omni, token, **dates)[2]["data"][0]["data_fim"] == rows[0]["data_fim"]

    board = [{"agent": "ag1000", "user_short_name": "Agente 1000", "capacity": 3,
              "status": "pause", "service": ["Suporte"],
              "attendance": [{"status": "holding", "service": "Suporte",
                              "protocol": "2026030700001", "tca": 42}]}]
    omni.set_dashboard(board)
    assert call("GET", f"{omni.url}{DASHBOARD}?organization=org-1", KEY)[2] == board
    assert call("GET", f"{omni.url}{DASHBOARD}", KEY)[0] == 400
    assert call("GET", f"{omni.url}{DASHBOARD}?organization=org-9", KEY)[0] == 404

    omni.faults.fail_next = [503, 500]
    omni.faults.retry_after = 1
    got = [call("GET", f"{omni.url}{DASHBOARD}?organization=org-1", KEY) for _ in range(3)]
    assert [g[0] for g in got] == [503, 500, 200] and got[0][1]["Retry-After"] == "1"
    omni.faults.delay_seconds = 0.3
    t0 = time.monotonic()
    assert activity(omni, token, **dates)[0] == 200
    assert time.monotonic() - t0 >= 0.3
    omni.faults.delay_seconds = 0.0

    more = omni.add_rows([{**r, "id": None} for r in rows[1:4]])
    omni.faults.malformed = set(more)
    omni.faults.breakage = {more[1]: RowBreakage.NO_AGENT, more[2]: RowBreakage.NOT_AN_OBJECT}
    served = {r["id"] if isinstance(r, dict) else r: r
              for r in activity(omni, token, **dates)[2]["data"]}
    assert served[more[0]]["data_inicio"] == "31/12/2026 25:61"
    assert "agent" not in served[more[1]]
    assert f"corrupt row {more[2]}" in served


# ---------------------------------------------------------------------- renderers
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ccai_rendering_reads_back(seed: int) -> None:
    day = ccai_day(seed)
    records = to_ccai_logs(day.canonical)
    assert read_ccai(records) == key(day.canonical)
    assert {e["acdServerId"] for e in day.canonical} == {"ccai"}
    assert {e["gisStateIdentifier"] for e in day.canonical} == {READY, TALKING, WORK_READY,
                                                                NOT_READY, LOGOUT}
    assert {e["reasonCode"] for e in day.canonical if e["gisStateIdentifier"] == NOT_READY} \
        <= {12, 29, 30, 31, 32, 45}
    # ids increase with started_at; pairs at login (login first) and logout (status first)
    assert [r["id"] for r in records] == list(range(1, len(records) + 1))
    assert [r["started_at"] for r in records] == sorted(r["started_at"] for r in records)
    mine: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        assert rec["started_at"] == format_time(parse_time(rec["started_at"]))
        mine[rec["agent_id"]].append(rec)
    for recs in mine.values():
        for a, b in itertools.pairwise(recs):
            if a["activity"] == "login":
                assert (b["activity"], b["started_at"]) == ("user_status_changed",
                                                            a["started_at"])
                assert a["status"]["wfm_id"] == 36
            if b["activity"] == "logout":
                assert (a["activity"], a["status"]["wfm_id"], a["started_at"]) == \
                    ("user_status_changed", 36, b["started_at"])
        assert recs[0]["activity"] == "login"
        for rec in recs:
            if rec["activity"] in ("login", "logout"):
                assert rec["ended_at"] is None and rec["duration"] == 0
    # each status ends when the agent's next one starts
    statuses: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        if rec["activity"] == "user_status_changed":
            statuses[rec["agent_id"]].append(rec)
    for recs in statuses.values():
        for a, b in itertools.pairwise(recs):
            assert a["ended_at"] == b["started_at"]
            assert a["duration"] == (parse_time(b["started_at"]) -
                                     parse_time(a["started_at"])) // 1000
        assert recs[-1]["ended_at"] is None and recs[-1]["duration"] == 0


def test_ccai_day_roster_schedules_determinism_and_view() -> None:
    day = ccai_day(4, agents=12, server="ccai-east")
    assert day == ccai_day(4, agents=12, server="ccai-east")
    assert day.canonical != ccai_day(5, agents=12, server="ccai-east").canonical
    ids = {a.acd_agent_id: a.agent_id for a in day.roster}
    assert len(ids) == 12 and all(str(a.ccai_id) == a.acd_agent_id for a in day.roster)
    assert {e["acdAgentId"] for e in day.canonical} <= set(ids)
    for sched in day.schedules:
        assert sched["acdServerId"] == "ccai-east" and ids[sched["acdAgentId"]] == \
            sched["agentId"] and "acdIdentities" not in sched
    # through the fake, paging, and at a moment of the day (open statuses)
    at = day.canonical[len(day.canonical) // 2]["timestamp"]
    seen = ccai_view_at(to_ccai_logs(day.canonical), at)
    assert read_ccai(seen) == key([e for e in day.canonical if e["timestamp"] <= at])
    open_ = [r for r in seen if r["activity"] == "user_status_changed" and r["ended_at"] is None]
    assert len(open_) == len({r["agent_id"] for r in seen})
    fake = FakeCcai(rate_per_second=10_000.0, max_per=500).start()
    try:
        fake.add_logs(seen)
        got: list[dict[str, Any]] = []
        page = 1
        while True:
            body = call("GET", logs_url(fake, **{"started_at[from]": FROM, "page": page,
                                                 "per": 500}), AUTH)[2]
            got += body
            if len(body) < 500:
                break
            page += 1
        assert got == seen
    finally:
        fake.stop()


def test_ccai_renderer_refuses_what_ccai_cannot_say() -> None:
    ev = {"tenantId": "demo", "acdServerId": "ccai", "acdAgentId": "7", "timestamp": 1000,
          "reasonCode": None, "gisStateIdentifier": READY}
    for bad in ([{**ev, "gisStateIdentifier": 10}],
                [ev, {**ev, "timestamp": 2000, "gisStateIdentifier": NOT_READY,
                      "reasonCode": 99}],
                [{**ev, "gisStateIdentifier": LOGOUT}],
                [ev, {**ev, "timestamp": 2000}]):
        with pytest.raises(ValueError):
            to_ccai_logs(bad)


@pytest.mark.parametrize(("seed", "zone", "day"), [
    (1, "America/Sao_Paulo", date(2026, 3, 7)), (2, "America/Sao_Paulo", date(2026, 3, 7)),
    (3, "America/Chicago", date(2026, 10, 31)), (4, "America/Chicago", date(2026, 3, 7))])
def test_omni_rendering_reads_back(seed: int, zone: str, day: date) -> None:
    sim = omni_day(seed, time_zone=zone, day=day)
    rows = to_omni_rows(sim.canonical, zone, sim.roster)
    assert read_omni(rows, zone) == key(sim.canonical)
    assert {e["acdServerId"] for e in sim.canonical} == {"omni"}
    people = {a.email: a for a in sim.roster}
    tz = ZoneInfo(zone)
    for row in rows:
        who = people[row["agent"]]
        assert (row["agente"], row["agent_id"]) == (who.name, who.omni_id)
        assert row["agent"] == row["agent"].lower()
        for text in (row["data_inicio"], row["data_fim"]):
            if text is None:
                continue
            wall = datetime.strptime(text, LOCAL)
            assert wall.replace(tzinfo=tz, fold=0).utcoffset() == \
                wall.replace(tzinfo=tz, fold=1).utcoffset(), text  # never ambiguous
    per: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
    for ts, who, state, reason in read_omni(rows, zone):
        assert ts % 1000 == 0
        per[who].append((ts, state, reason))
    for evs in per.values():
        assert all(a[0] < b[0] for a, b in itertools.pairwise(evs))  # never the same second
        for a, b in itertools.pairwise(evs):
            assert a[1:] != b[1:]
            if a[1] == NOT_READY:
                assert b[1] in (READY, LOGOUT)
    # pauses lie inside logins
    logins = [r for r in rows if r["evento"] == "Login"]
    for row in rows:
        if row["evento"] != "Login":
            assert any(lg["agent"] == row["agent"] and lg["data_inicio"] < row["data_inicio"]
                       and (lg["data_fim"] is None or (row["data_fim"] is not None and
                                                        row["data_fim"] <= lg["data_fim"]))
                       for lg in logins)
    # schedules name the Omni identities
    ids = {a.acd_agent_id: a.agent_id for a in sim.roster}
    assert all(ids[s["acdAgentId"]] == s["agentId"] and s["acdServerId"] == "omni"
               for s in sim.schedules)
    assert sim == omni_day(seed, time_zone=zone, day=day)


def test_omni_fall_back_day_moves_events_out_of_the_repeated_hour() -> None:
    sim = omni_day(3, time_zone="America/Chicago", day=date(2026, 10, 31))
    walls = [datetime.fromtimestamp(e["timestamp"] / 1000, UTC)
             .astimezone(ZoneInfo("America/Chicago")) for e in sim.canonical]
    assert not any(w.strftime("%Y-%m-%d %H") == "2026-11-01 01" for w in walls)
    assert any(w.strftime(LOCAL) == "2026-11-01 02:00:00" for w in walls)  # moved there


def test_omni_view_and_normalisation() -> None:
    sim = omni_day(5, agents=10)
    rows = to_omni_rows(sim.canonical, "America/Sao_Paulo")
    at = sim.canonical[len(sim.canonical) // 3]["timestamp"]
    seen = omni_view_at(rows, at, "America/Sao_Paulo")
    assert read_omni(seen, "America/Sao_Paulo") == \
        key([e for e in sim.canonical if e["timestamp"] <= at])
    # the normaliser: seconds floored, a second apart, a pause while logged out logs in
    ev = {"tenantId": "demo", "acdServerId": "omni", "acdAgentId": "username:a@acme.example",
          "reasonCode": None}
    t0 = 1_772_900_000_000
    got = to_omni_canonical([
        {**ev, "timestamp": t0 + 300, "gisStateIdentifier": LOGOUT},  # logged out: dropped
        {**ev, "timestamp": t0 + 400, "gisStateIdentifier": NOT_READY, "reasonCode": "Almoço"},
        {**ev, "timestamp": t0 + 900, "gisStateIdentifier": READY},
        {**ev, "timestamp": t0 + 5_000, "gisStateIdentifier": READY},  # a repeat: dropped
        {**ev, "timestamp": t0 + 6_000, "gisStateIdentifier": LOGOUT},
        {**ev, "timestamp": t0 + 6_200, "gisStateIdentifier": READY}], "America/Sao_Paulo")
    assert [(e["timestamp"] - t0, e["gisStateIdentifier"], e["reasonCode"]) for e in got] == [
        (0, READY, None), (1000, NOT_READY, "Almoço"), (2000, READY, None),
        (6000, LOGOUT, None), (7000, READY, None)]
    assert read_omni(to_omni_rows(got, "America/Sao_Paulo"), "America/Sao_Paulo") == key(got)


# ---------------------------------------------------------------------- Omni fixtures
def wall_hours(row: dict[str, Any]) -> float:
    a, b = (datetime.strptime(row[k], LOCAL) for k in ("data_inicio", "data_fim"))
    return (b - a).total_seconds() / 3600


def real_hours(row: dict[str, Any], zone: str) -> float:
    tz = ZoneInfo(zone)
    return (local_ms(row["data_fim"], tz) - local_ms(row["data_inicio"], tz)) / 3_600_000


def reads_back(fx: OmniRows) -> None:
    assert read_omni(fx.rows, fx.time_zone) == key(fx.canonical)


def test_midnight_fixture_spans_local_midnight(omni: FakeOmni) -> None:
    fx = omni_midnight_rows()
    reads_back(fx)
    assert len(fx.rows) == 2
    for row in fx.rows:
        assert row["data_inicio"].startswith("2026-03-07") and row["data_fim"].startswith(
            "2026-03-08")
    omni.add_rows(fx.rows)
    token = report_token(omni)
    assert activity(omni, token, date_ini="2026-03-08", date_end="2026-03-08")[2]["total"] == 0
    body = activity(omni, token, date_ini="2026-03-07", date_end="2026-03-08")[2]
    assert body["data"] == fx.rows


def test_dst_fixtures_are_what_they_claim() -> None:
    spring = omni_dst_rows("spring")
    reads_back(spring)
    login, pause, other = spring.rows
    assert spring.time_zone == "America/Chicago"
    assert (login["data_inicio"], login["data_fim"]) == ("2026-03-08 01:30:00",
                                                         "2026-03-08 03:30:00")
    assert wall_hours(login) == 2 and real_hours(login, "America/Chicago") == 1
    assert pause["evento"] == "Almoço" and real_hours(pause, "America/Chicago") * 60 == 20
    assert local_ms(other["data_inicio"], ZoneInfo("America/Chicago")) == \
        int(datetime(2026, 3, 8, 8, tzinfo=UTC).timestamp() * 1000)

    fall = omni_dst_rows("fall")
    reads_back(fall)
    login, pause, other_login, other_pause = fall.rows
    assert wall_hours(login) == 2 and real_hours(login, "America/Chicago") == 3
    assert real_hours(pause, "America/Chicago") == pytest.approx(2 + 20 / 60)
    assert (other_login["data_inicio"], other_pause["data_inicio"]) == (
        "2026-11-01 02:00:00", "2026-11-01 02:00:01")
    assert not any(t and t.startswith("2026-11-01 01:") for r in fall.rows
                   for t in (r["data_inicio"], r["data_fim"]))


def test_paging_fixture_needs_more_than_one_page() -> None:
    fx = omni_paging_rows(agents=120, pauses=9)
    reads_back(fx)
    assert len(fx.rows) == 1200 > 1000
    assert len({r["data_inicio"] for r in fx.rows[:120]}) == 1  # all log in together
