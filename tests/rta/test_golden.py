"""Golden scenario tests for the adherence engine (``rta.replay.replay_log``).

Every expected figure below was computed by hand from the written contract
(shared/spec/ADHERENCE.md, shared/spec/INTERFACES.md) and the project's
decisions (docs/SEMANTICS.md); the arithmetic is in the comments.  The
helpers only build input records and turn readable datetimes into epoch ms.

Readings chosen where the written texts leave room are marked ``# READING:``.
General ones:

# READING: actuals cover the whole activity part up to the evaluation time,
#   LOGOUT runs included (a LOGOUT run before an identity's first event has
#   reason null); zero-length runs never appear.
# READING: ``gisStateIdentifier`` in actuals is compared by integer value (the
#   contract allows number or numeric string); ``actualReasonCode`` exactly
#   (as received: None, int or str).
# READING: ``agentId`` is reported as the schedule wrote it (int here).
# READING: percentages are compared as floats to 1e-6; seconds exactly.
# READING: tenants passed as {tenant: settings}; a tenant without a
#   ``time_zone`` (or not in ``tenants``) uses ``default_time_zone``.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

# --------------------------------------------------------------------------
# helpers (input building only)
# --------------------------------------------------------------------------

def at(y, mo, d, h=0, mi=0, s=0, ms=0, tz="UTC", fold=0):
    """Epoch ms of a wall-clock time in ``tz`` (+ ``ms`` milliseconds)."""
    dt = datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz), fold=fold)
    return int(dt.astimezone(UTC).timestamp()) * 1000 + ms


# the ordinary test day: Tuesday 2026-03-10 (no DST anywhere near in UTC)
DAY = "2026-03-10"
DAY1 = "2026-03-11"


def u(h, mi=0, s=0, ms=0):
    """2026-03-10 h:mi:s.ms UTC."""
    return at(2026, 3, 10, h, mi, s, ms)


def u1(h, mi=0, s=0, ms=0):
    """2026-03-11 h:mi:s.ms UTC."""
    return at(2026, 3, 11, h, mi, s, ms)


DAY_START = u(0)
DAY_END = u1(0)

LOGOUT, NOT_READY, READY, TALKING, WORK_NOT_READY, WORK_READY, BUSY_OTHER, \
    RESERVED, UNKNOWN, HOLD = range(1, 11)

RTA_NAME = {
    1: "LOGGED_OUT", 2: "NOT_READY_BUSY", 3: "READY_WAITING", 4: "TALK",
    5: "WORK_AFTER_CONTACT", 6: "WORK_AFTER_CONTACT", 7: "TALK",
    8: "READY_WAITING", 9: "NOT_READY_BUSY", 10: "HOLD",
}


def state(acd, ts, gis, reason=None, eid=None, tenant="t1", server="1", **extra):
    body = {"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
            "gisStateIdentifier": gis, "timestamp": ts, "reasonCode": reason}
    if eid is not None:
        body["eventId"] = eid
    body.update(extra)
    return {"kind": "state", "body": body}


def act(activity_type, start, end):
    return {"activityType": activity_type, "startTime": start, "endTime": end}


def schedule(agent, acd, frm, to, activities, tenant="t1", server="1",
             identities=None, **extra):
    body = {"tenantId": tenant, "agentId": agent, "acdServerId": server,
            "acdAgentId": acd, "fromTimestamp": frm, "toTimestamp": to,
            "activities": list(activities)}
    if identities:
        body["acdIdentities"] = [{"acdServerId": s, "acdAgentId": a}
                                 for s, a in identities]
    body.update(extra)
    return {"kind": "schedule", "body": body}


def replay(records, **kw):
    from rta.replay import replay_log  # imported here so collection never fails
    return replay_log(records, **kw)


# ---- expected-value builders and comparison -------------------------------

def A(gis, start, inn, out, reason=None):
    """Expected actual (run)."""
    return {"actualAgentState": RTA_NAME[gis], "gisStateIdentifier": gis,
            "actualAgentStateStartTime": start, "actualReasonCode": reason,
            "inAdherenceSeconds": inn, "outOfAdherenceSeconds": out}


def Dt(activity_type, start, inn, out, actuals):
    """Expected detail (activity part)."""
    return {"scheduledActivityType": activity_type,
            "scheduledActivityStartTime": start,
            "inAdherenceSeconds": inn, "outOfAdherenceSeconds": out,
            "actuals": actuals}


_ACTUAL_KEYS = ("actualAgentState", "gisStateIdentifier",
                "actualAgentStateStartTime", "actualReasonCode",
                "inAdherenceSeconds", "outOfAdherenceSeconds")


def _pct(x):
    return None if x is None else round(float(x), 6)


def _norm_actual(a):
    out = {k: a.get(k, "<missing>") for k in _ACTUAL_KEYS}
    g = out["gisStateIdentifier"]
    if isinstance(g, (str, int)) and not isinstance(g, bool):
        out["gisStateIdentifier"] = int(g)
    return out


def _norm_detail(d):
    return {"scheduledActivityType": d.get("scheduledActivityType", "<missing>"),
            "scheduledActivityStartTime": d.get("scheduledActivityStartTime", "<missing>"),
            "inAdherenceSeconds": d.get("inAdherenceSeconds", "<missing>"),
            "outOfAdherenceSeconds": d.get("outOfAdherenceSeconds", "<missing>"),
            "actuals": [_norm_actual(a) for a in d.get("actuals", [])]}


def by_key(result):
    return {(s["tenantId"], s["agentId"], s["date"]): s for s in result.summaries}


def check(summary, *, scheduled, sched_is, actual_is, inn, out, neutral,
          unsched, adherence, conformity, details, acd=None):
    got = {
        "scheduledSeconds": summary.get("scheduledSeconds"),
        "scheduledInServiceSeconds": summary.get("scheduledInServiceSeconds"),
        "actualInServiceSeconds": summary.get("actualInServiceSeconds"),
        "inAdherenceSeconds": summary.get("inAdherenceSeconds"),
        "notInAdherenceSeconds": summary.get("notInAdherenceSeconds"),
        "neutralSeconds": summary.get("neutralSeconds"),
        "unscheduledSeconds": summary.get("unscheduledSeconds"),
        "scheduleAdherence": _pct(summary.get("scheduleAdherence")),
        "scheduleConformity": _pct(summary.get("scheduleConformity")),
        "details": [_norm_detail(d) for d in summary.get("details", [])],
    }
    exp = {
        "scheduledSeconds": scheduled,
        "scheduledInServiceSeconds": sched_is,
        "actualInServiceSeconds": actual_is,
        "inAdherenceSeconds": inn,
        "notInAdherenceSeconds": out,
        "neutralSeconds": neutral,
        "unscheduledSeconds": unsched,
        "scheduleAdherence": _pct(adherence),
        "scheduleConformity": _pct(conformity),
        "details": details,
    }
    if acd is not None:
        got["acdAgentId"] = summary.get("acdAgentId")
        exp["acdAgentId"] = acd
    # the percent keys must be present even when null
    assert "scheduleAdherence" in summary and "scheduleConformity" in summary
    assert got == exp


def rejected_indices(result):
    idx = set()
    for entry in result.rejected:
        i, reason = entry
        assert isinstance(reason, str) and reason.strip(), entry
        idx.add(i)
    return idx


# a schedule window covering the whole test day
def day_schedule(agent, acd, activities, **kw):
    return schedule(agent, acd, DAY_START, DAY_END, activities, **kw)


# --------------------------------------------------------------------------
# 1. the rule matrix, cell by cell
# --------------------------------------------------------------------------

IN_SERVICE_STATE = {LOGOUT: False, NOT_READY: False, READY: True, TALKING: True,
                    WORK_NOT_READY: True, WORK_READY: True, BUSY_OTHER: True,
                    RESERVED: True, UNKNOWN: False, HOLD: True}

# ADHERENCE.md §4
MATRIX = {
    "IN_SERVICE": {LOGOUT: "OUT", NOT_READY: "OUT", READY: "IN", RESERVED: "IN",
                   TALKING: "IN", HOLD: "IN", WORK_NOT_READY: "IN",
                   WORK_READY: "IN", BUSY_OTHER: "IN", UNKNOWN: "NEUTRAL"},
    "BREAK": {LOGOUT: "IN", NOT_READY: "IN", READY: "OUT", RESERVED: "OUT",
              TALKING: "OUT", HOLD: "OUT", WORK_NOT_READY: "OUT",
              WORK_READY: "OUT", BUSY_OTHER: "OUT", UNKNOWN: "NEUTRAL"},
    "OFF_PHONE": {LOGOUT: "IN", NOT_READY: "IN", READY: "OUT", RESERVED: "OUT",
                  TALKING: "OUT", HOLD: "OUT", WORK_NOT_READY: "OUT",
                  WORK_READY: "OUT", BUSY_OTHER: "OUT", UNKNOWN: "NEUTRAL"},
}
# activity type written per category (case-insensitive mapping; reported as written)
CATEGORY_TYPE = {"IN_SERVICE": "IN_SERVICE", "BREAK": "break", "OFF_PHONE": "Assignment"}


@pytest.mark.parametrize("category", ["IN_SERVICE", "BREAK", "OFF_PHONE"])
@pytest.mark.parametrize("gis", [LOGOUT, NOT_READY, READY, RESERVED, TALKING,
                                 HOLD, WORK_NOT_READY, WORK_READY, BUSY_OTHER,
                                 UNKNOWN])
def test_rule_matrix_cell(category, gis):
    # activity 10:00-10:10 (600 s); agent in state `gis` 10:00-10:10, then LOGOUT
    typ = CATEGORY_TYPE[category]
    records = [day_schedule(101, "a101", [act(typ, u(10), u(10, 10))])]
    records.append(state("a101", u(10), gis, eid="e1"))
    if gis != LOGOUT:
        records.append(state("a101", u(10, 10), LOGOUT, eid="e2"))
    res = replay(records)
    assert rejected_indices(res) == set()
    sums = by_key(res)
    assert set(sums) == {("t1", 101, DAY)}
    verdict = MATRIX[category][gis]
    inn = 600 if verdict == "IN" else 0
    out = 600 if verdict == "OUT" else 0
    neu = 600 if verdict == "NEUTRAL" else 0
    in_service = IN_SERVICE_STATE[gis]
    # adherence = 100*IN/(IN+OUT): 100.0 / 0.0 / null when IN+OUT = 0
    adherence = {"IN": 100.0, "OUT": 0.0, "NEUTRAL": None}[verdict]
    # conformity = 100*600/600 or 100*0/600 for IN_SERVICE; null otherwise (0 scheduled in service)
    conformity = (100.0 if in_service else 0.0) if category == "IN_SERVICE" else None
    check(sums[("t1", 101, DAY)],
          scheduled=600,
          sched_is=600 if category == "IN_SERVICE" else 0,
          actual_is=600 if in_service else 0,
          inn=inn, out=out, neutral=neu, unsched=0,
          adherence=adherence, conformity=conformity,
          acd="a101",
          details=[Dt(typ, u(10), inn, out, [A(gis, u(10), inn, out)])])


@pytest.mark.parametrize("typ,category", [
    ("in_service", "IN_SERVICE"), ("in_service_msg", "IN_SERVICE"),
    ("overtime", "IN_SERVICE"), ("Overtime_MSG", "IN_SERVICE"),
    ("break", "BREAK"), ("LUNCH", "BREAK"),
    ("assignment", "OFF_PHONE"), ("project", "OFF_PHONE"),
    ("exception", "OFF_PHONE"), ("closed_service", "OFF_PHONE"),
    ("Closed_Service_Msg", "OFF_PHONE"),
])
def test_activity_type_categories(typ, category):
    # activity 10:00-10:10 (600 s), agent READY throughout -> IN for IN_SERVICE,
    # OUT for BREAK / OFF_PHONE (ADHERENCE.md §3/§4; map is case-insensitive)
    res = replay([
        day_schedule(102, "a102", [act(typ, u(10), u(10, 10))]),
        state("a102", u(10), READY),
        state("a102", u(10, 10), LOGOUT),
    ])
    s = by_key(res)[("t1", 102, DAY)]
    is_ = category == "IN_SERVICE"
    check(s, scheduled=600, sched_is=600 if is_ else 0, actual_is=600,
          inn=600 if is_ else 0, out=0 if is_ else 600, neutral=0, unsched=0,
          adherence=100.0 if is_ else 0.0,
          conformity=100.0 if is_ else None,  # 100*600/600, or null (0 scheduled in service)
          details=[Dt(typ, u(10), 600 if is_ else 0, 0 if is_ else 600,
                      [A(READY, u(10), 600 if is_ else 0, 0 if is_ else 600)])])


@pytest.mark.parametrize("typ", ["not_available", "available", "Coffee_Chat"])
def test_off_activity_ready_is_unscheduled(typ):
    # OFF activity 10:00-10:10 (600 s), agent READY 10:00-10:10:
    # never IN/OUT; logged-in 600 s in OFF time -> unscheduled 600;
    # READY is an in-service state -> actualInService 600; no details.
    res = replay([
        day_schedule(103, "a103", [act(typ, u(10), u(10, 10))]),
        state("a103", u(10), READY),
        state("a103", u(10, 10), LOGOUT),
    ])
    sums = by_key(res)
    assert set(sums) == {("t1", 103, DAY)}  # reported: logged-in time
    check(sums[("t1", 103, DAY)], scheduled=0, sched_is=0, actual_is=600,
          inn=0, out=0, neutral=0, unsched=600,
          adherence=None, conformity=None, details=[])


# --------------------------------------------------------------------------
# 2. break overrun
# --------------------------------------------------------------------------

def test_break_overrun():
    # in_service 09:00-11:00 listed first, break 10:00-10:15 listed later and
    # painted over it -> parts: in_service 09:00-10:00, break 10:00-10:15,
    # in_service 10:15-11:00 (a part of its own starting at 10:15).
    res = replay([
        day_schedule(201, "a201", [act("in_service", u(9), u(11)),
                                   act("break", u(10), u(10, 15))]),
        state("a201", u(9), READY),
        state("a201", u(10), NOT_READY),
        state("a201", u(10, 18), READY),
        state("a201", u(11), LOGOUT),
    ])
    sums = by_key(res)
    assert set(sums) == {("t1", 201, DAY)}
    # part 09:00-10:00 READY            -> IN 3600
    # part 10:00-10:15 NOT_READY        -> IN 900 (BREAK x NOT_READY)
    # part 10:15-11:00 NOT_READY 10:15-10:18 -> OUT 180; READY 10:18-11:00 -> IN 2520
    # scheduled = 3600+900+2700 = 7200; in service = 3600+2700 = 6300
    # IN = 3600+900+2520 = 7020; OUT = 180
    # actualInService = READY 3600 + 2520 = 6120
    # adherence = 100*7020/7200 = 97.5
    # conformity = 100*6120/6300 = 97.142.. -> 97.1
    check(sums[("t1", 201, DAY)], scheduled=7200, sched_is=6300, actual_is=6120,
          inn=7020, out=180, neutral=0, unsched=0, adherence=97.5, conformity=97.1,
          acd="a201",
          details=[
              Dt("in_service", u(9), 3600, 0, [A(READY, u(9), 3600, 0)]),
              Dt("break", u(10), 900, 0, [A(NOT_READY, u(10), 900, 0)]),
              Dt("in_service", u(10, 15), 2520, 180, [
                  A(NOT_READY, u(10, 15), 0, 180),   # run began 10:00, clipped to part start
                  A(READY, u(10, 18), 2520, 0)]),
          ])


# --------------------------------------------------------------------------
# 3. late login / early logout
# --------------------------------------------------------------------------

def test_late_login_early_logout():
    res = replay([
        day_schedule(301, "a301", [act("in_service", u(9), u(17))]),
        state("a301", u(9, 7, 30), READY),
        state("a301", u(12), TALKING),
        state("a301", u(12, 10), READY),
        state("a301", u(16, 50), LOGOUT, reason=12),
    ])
    sums = by_key(res)
    assert set(sums) == {("t1", 301, DAY)}
    # in_service 09:00-17:00 = 28800 s
    # LOGOUT 09:00-09:07:30   = 450 OUT
    # READY 09:07:30-12:00    = 2:52:30 = 10350 IN
    # TALKING 12:00-12:10     = 600 IN
    # READY 12:10-16:50       = 4:40 = 16800 IN
    # LOGOUT(12) 16:50-17:00  = 600 OUT
    # IN = 10350+600+16800 = 27750; OUT = 450+600 = 1050; 27750+1050 = 28800
    # adherence = conformity = 100*27750/28800 = 96.354.. -> 96.4
    check(sums[("t1", 301, DAY)], scheduled=28800, sched_is=28800, actual_is=27750,
          inn=27750, out=1050, neutral=0, unsched=0, adherence=96.4, conformity=96.4,
          details=[Dt("in_service", u(9), 27750, 1050, [
              A(LOGOUT, u(9), 0, 450),
              A(READY, u(9, 7, 30), 10350, 0),
              A(TALKING, u(12), 600, 0),
              A(READY, u(12, 10), 16800, 0),
              A(LOGOUT, u(16, 50), 0, 600, reason=12),
          ])])


# --------------------------------------------------------------------------
# 4. mid-day schedule change (window replacement)
# --------------------------------------------------------------------------

def test_midday_schedule_change():
    records = [
        # message 1: in_service 09:00-17:00 with lunch 12:00-13:00 painted over
        #  -> in_service 09:00-12:00, lunch 12:00-13:00, in_service 13:00-17:00
        day_schedule(401, "a401", [act("in_service", u(9), u(17)),
                                   act("lunch", u(12), u(13))]),
        state("a401", u(9), READY),
        state("a401", u(12), NOT_READY),
        state("a401", u(13), READY),
        state("a401", u(14), NOT_READY, reason="meeting"),
        state("a401", u(15, 5), READY),
        state("a401", u(17), LOGOUT),
        # message 2 (arrives after the states): window 14:00-15:00 holds only
        # project 14:00-14:30.  Old in_service 13:00-17:00 is cut into
        # 13:00-14:00 and 15:00-17:00 (own part starting at 15:00 = toTimestamp);
        # 14:30-15:00 has no activity (OFF).
        schedule(401, "a401", u(14), u(15), [act("project", u(14), u(14, 30))]),
    ]
    res = replay(records)
    assert rejected_indices(res) == set()
    sums = by_key(res)
    assert set(sums) == {("t1", 401, DAY)}
    # in_service 09:00-12:00 READY            IN 10800
    # lunch 12:00-13:00 NOT_READY             IN 3600
    # in_service 13:00-14:00 READY            IN 3600
    # project 14:00-14:30 NOT_READY(meeting)  IN 1800 (OFF_PHONE x NOT_READY)
    # OFF 14:30-15:00 NOT_READY (logged in)   unscheduled 1800
    # in_service 15:00-17:00: NOT_READY(meeting) 15:00-15:05 OUT 300; READY 15:05-17:00 IN 6900
    # scheduled = 10800+3600+3600+1800+7200 = 27000; in service = 10800+3600+7200 = 21600
    # IN = 10800+3600+3600+1800+6900 = 26700; OUT = 300
    # actualInService = READY 10800+3600+6900 = 21300
    # adherence = 100*26700/27000 = 98.888.. -> 98.9
    # conformity = 100*21300/21600 = 98.611.. -> 98.6
    # (under the old schedule 14:00-15:05 NOT_READY would have been OUT)
    check(sums[("t1", 401, DAY)], scheduled=27000, sched_is=21600, actual_is=21300,
          inn=26700, out=300, neutral=0, unsched=1800, adherence=98.9, conformity=98.6,
          details=[
              Dt("in_service", u(9), 10800, 0, [A(READY, u(9), 10800, 0)]),
              Dt("lunch", u(12), 3600, 0, [A(NOT_READY, u(12), 3600, 0)]),
              Dt("in_service", u(13), 3600, 0, [A(READY, u(13), 3600, 0)]),
              Dt("project", u(14), 1800, 0,
                 [A(NOT_READY, u(14), 1800, 0, reason="meeting")]),
              Dt("in_service", u(15), 6900, 300, [
                  A(NOT_READY, u(15), 0, 300, reason="meeting"),
                  A(READY, u(15, 5), 6900, 0)]),
          ])


def test_schedule_empty_activities_clears_window():
    res = replay([
        day_schedule(402, "a402", [act("in_service", u(9), u(10))]),
        schedule(402, "a402", u(9, 30), u(10), []),   # clears 09:30-10:00
        state("a402", u(9), READY),
        state("a402", u(10), LOGOUT),
    ])
    # in_service 09:00-09:30 only (1800 s), READY -> IN 1800
    # READY 09:30-10:00 in OFF time -> unscheduled 1800
    # actualInService = 3600 -> conformity = 100*3600/1800 = 200.0
    check(by_key(res)[("t1", 402, DAY)], scheduled=1800, sched_is=1800,
          actual_is=3600, inn=1800, out=0, neutral=0, unsched=1800,
          adherence=100.0, conformity=200.0,
          details=[Dt("in_service", u(9), 1800, 0, [A(READY, u(9), 1800, 0)])])


def test_off_activity_cuts_earlier_listed_activity():
    # in_service 09:00-11:00, then not_available 09:30-10:00 listed later:
    # parts in_service 09:00-09:30, (OFF 09:30-10:00), in_service 10:00-11:00
    res = replay([
        day_schedule(403, "a403", [act("in_service", u(9), u(11)),
                                   act("not_available", u(9, 30), u(10))]),
        state("a403", u(9), READY),
        state("a403", u(11), LOGOUT),
    ])
    # scheduled = 1800+3600 = 5400; IN 5400; unscheduled 1800 (READY in OFF)
    # actualInService 7200; conformity = 100*7200/5400 = 133.33.. -> 133.3
    check(by_key(res)[("t1", 403, DAY)], scheduled=5400, sched_is=5400,
          actual_is=7200, inn=5400, out=0, neutral=0, unsched=1800,
          adherence=100.0, conformity=133.3,
          details=[Dt("in_service", u(9), 1800, 0, [A(READY, u(9), 1800, 0)]),
                   Dt("in_service", u(10), 3600, 0, [A(READY, u(10), 3600, 0)])])


# --------------------------------------------------------------------------
# 5. overnight shift across midnight (UTC)
# --------------------------------------------------------------------------

def test_overnight_shift_split_at_midnight():
    res = replay([
        schedule(501, "a501", u(20), u1(8), [act("in_service", u(22), u1(6))]),
        state("a501", u(21, 55), READY),
        state("a501", u(23, 50), TALKING),
        state("a501", u1(0, 20), READY),
        state("a501", u1(5, 50), LOGOUT),
    ])
    assert rejected_indices(res) == set()
    sums = by_key(res)
    assert set(sums) == {("t1", 501, DAY), ("t1", 501, DAY1)}
    assert [s["date"] for s in res.summaries] == [DAY, DAY1]
    # day 1: part 22:00-24:00 = 7200 s
    #   READY 22:00-23:50 = 6600 IN; TALKING 23:50-24:00 = 600 IN
    #   READY 21:55-22:00 in OFF time -> unscheduled 300
    #   actualInService = READY 21:55-23:50 (6900) + TALKING 600 = 7500
    #   conformity = 100*7500/7200 = 104.166.. -> 104.2
    check(sums[("t1", 501, DAY)], scheduled=7200, sched_is=7200, actual_is=7500,
          inn=7200, out=0, neutral=0, unsched=300, adherence=100.0, conformity=104.2,
          details=[Dt("in_service", u(22), 7200, 0, [
              A(READY, u(22), 6600, 0), A(TALKING, u(23, 50), 600, 0)])])
    # day 2: part 00:00-06:00 = 21600 s, starting at midnight
    #   TALKING 00:00-00:20 = 1200 IN (run split at midnight)
    #   READY 00:20-05:50 = 5:30 = 19800 IN; LOGOUT 05:50-06:00 = 600 OUT
    #   IN = 21000, OUT = 600; actualInService = 21000
    #   adherence = conformity = 100*21000/21600 = 97.222.. -> 97.2
    check(sums[("t1", 501, DAY1)], scheduled=21600, sched_is=21600, actual_is=21000,
          inn=21000, out=600, neutral=0, unsched=0, adherence=97.2, conformity=97.2,
          details=[Dt("in_service", u1(0), 21000, 600, [
              A(TALKING, u1(0), 1200, 0),
              A(READY, u1(0, 20), 19800, 0),
              A(LOGOUT, u1(5, 50), 0, 600)])])


# --------------------------------------------------------------------------
# 6. DST in America/Chicago
# --------------------------------------------------------------------------

CHI = "America/Chicago"


def test_dst_spring_forward_chicago():
    # 2026-03-08: 02:00 CST -> 03:00 CDT. Day = 03-08 06:00Z .. 03-09 05:00Z = 23 h = 82800 s
    # 03-07 = 03-07 06:00Z .. 03-08 06:00Z (24 h); 03-09 starts 03-09 05:00Z
    tenants = {"chi": {"time_zone": CHI}}
    shift_start = at(2026, 3, 7, 22, tz=CHI)        # = 03-08 04:00Z
    shift_end = at(2026, 3, 8, 6, tz=CHI)           # = 03-08 11:00Z (CDT)
    assert shift_start == at(2026, 3, 8, 4) and shift_end == at(2026, 3, 8, 11)
    ready = at(2026, 3, 7, 21, 30, tz=CHI)          # = 03-08 03:30Z
    logout = at(2026, 3, 9, 0, 30, tz=CHI)          # = 03-09 05:30Z
    res = replay([
        schedule(601, "a601", at(2026, 3, 7, tz=CHI), at(2026, 3, 9, tz=CHI),
                 [act("in_service", shift_start, shift_end)], tenant="chi"),
        state("a601", ready, READY, tenant="chi"),
        state("a601", logout, LOGOUT, tenant="chi"),
    ], tenants=tenants, default_time_zone="UTC")
    sums = by_key(res)
    assert set(sums) == {("chi", 601, "2026-03-07"), ("chi", 601, "2026-03-08"),
                         ("chi", 601, "2026-03-09")}
    assert [s["date"] for s in res.summaries] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    # 03-07: part 22:00-24:00 CST = 04:00Z-06:00Z = 7200 s; READY from 21:30 CST
    #   logged in 03:30Z-06:00Z = 9000 s -> unscheduled 9000-7200 = 1800
    #   conformity = 100*9000/7200 = 125.0
    check(sums[("chi", 601, "2026-03-07")], scheduled=7200, sched_is=7200,
          actual_is=9000, inn=7200, out=0, neutral=0, unsched=1800,
          adherence=100.0, conformity=125.0,
          details=[Dt("in_service", at(2026, 3, 8, 4), 7200, 0,
                      [A(READY, at(2026, 3, 8, 4), 7200, 0)])])
    # 03-08 (23 h): part 00:00 CST-06:00 CDT = 06:00Z-11:00Z = 5 h = 18000 s
    #   READY the whole day: actualInService 82800; unscheduled 82800-18000 = 64800
    #   conformity = 100*82800/18000 = 460.0
    check(sums[("chi", 601, "2026-03-08")], scheduled=18000, sched_is=18000,
          actual_is=82800, inn=18000, out=0, neutral=0, unsched=64800,
          adherence=100.0, conformity=460.0,
          details=[Dt("in_service", at(2026, 3, 8, 6), 18000, 0,
                      [A(READY, at(2026, 3, 8, 6), 18000, 0)])])
    # 03-09: READY 00:00-00:30 CDT = 1800 s, nothing scheduled
    check(sums[("chi", 601, "2026-03-09")], scheduled=0, sched_is=0,
          actual_is=1800, inn=0, out=0, neutral=0, unsched=1800,
          adherence=None, conformity=None, details=[])


def test_dst_fall_back_chicago_via_default_time_zone():
    # 2026-11-01: 02:00 CDT -> 01:00 CST. Day = 11-01 05:00Z .. 11-02 06:00Z = 25 h = 90000 s
    # 10-31 = 10-31 05:00Z .. 11-01 05:00Z; 11-02 starts 11-02 06:00Z
    # READING: a tenant absent from `tenants` uses default_time_zone.
    shift_start = at(2026, 10, 31, 22, tz=CHI)      # = 11-01 03:00Z
    shift_end = at(2026, 11, 1, 6, tz=CHI)          # = 11-01 12:00Z (CST)
    assert shift_start == at(2026, 11, 1, 3) and shift_end == at(2026, 11, 1, 12)
    ready = at(2026, 10, 31, 21, 30, tz=CHI)        # = 11-01 02:30Z
    logout = at(2026, 11, 2, 0, 30, tz=CHI)         # = 11-02 06:30Z
    res = replay([
        schedule(602, "a602", at(2026, 10, 31, tz=CHI), at(2026, 11, 2, tz=CHI),
                 [act("in_service", shift_start, shift_end)], tenant="chi"),
        state("a602", ready, READY, tenant="chi"),
        state("a602", logout, LOGOUT, tenant="chi"),
    ], tenants=None, default_time_zone=CHI)
    sums = by_key(res)
    assert set(sums) == {("chi", 602, "2026-10-31"), ("chi", 602, "2026-11-01"),
                         ("chi", 602, "2026-11-02")}
    # 10-31: part 22:00-24:00 CDT = 03:00Z-05:00Z = 7200; logged in 02:30Z-05:00Z = 9000
    #   unscheduled 1800; conformity = 100*9000/7200 = 125.0
    check(sums[("chi", 602, "2026-10-31")], scheduled=7200, sched_is=7200,
          actual_is=9000, inn=7200, out=0, neutral=0, unsched=1800,
          adherence=100.0, conformity=125.0,
          details=[Dt("in_service", at(2026, 11, 1, 3), 7200, 0,
                      [A(READY, at(2026, 11, 1, 3), 7200, 0)])])
    # 11-01 (25 h): part 00:00 CDT-06:00 CST = 05:00Z-12:00Z = 7 h = 25200 s
    #   READY all day: actualInService 90000; unscheduled 90000-25200 = 64800
    #   conformity = 100*90000/25200 = 357.142.. -> 357.1
    check(sums[("chi", 602, "2026-11-01")], scheduled=25200, sched_is=25200,
          actual_is=90000, inn=25200, out=0, neutral=0, unsched=64800,
          adherence=100.0, conformity=357.1,
          details=[Dt("in_service", at(2026, 11, 1, 5), 25200, 0,
                      [A(READY, at(2026, 11, 1, 5), 25200, 0)])])
    # 11-02: READY 00:00-00:30 CST = 1800 s
    check(sums[("chi", 602, "2026-11-02")], scheduled=0, sched_is=0,
          actual_is=1800, inn=0, out=0, neutral=0, unsched=1800,
          adherence=None, conformity=None, details=[])


# --------------------------------------------------------------------------
# 7. multi-channel agent
# --------------------------------------------------------------------------

def test_multichannel_effective_state():
    res = replay([
        day_schedule(701, "v701", [act("in_service", u(9), u(10))],
                     identities=[("2", "c701")]),
        # voice (1, v701)
        state("v701", u(9), READY),
        state("v701", u(9, 20), TALKING),
        state("v701", u(9, 30), WORK_NOT_READY),
        state("v701", u(9, 35), READY),
        state("v701", u(9, 55), NOT_READY, reason=9),
        state("v701", u(10), LOGOUT),
        # chat (2, c701)
        state("c701", u(8, 50), NOT_READY, reason=3, server="2"),
        state("c701", u(9, 25), TALKING, server="2"),
        state("c701", u(9, 32), READY, server="2"),
        state("c701", u(9, 45), NOT_READY, reason=3, server="2"),
        state("c701", u(10, 5), LOGOUT, server="2"),
    ])
    assert rejected_indices(res) == set()
    sums = by_key(res)
    assert set(sums) == {("t1", 701, DAY)}
    # effective (voice, chat):
    # 08:50-09:00 (LOGOUT, NR3)    -> NOT_READY r3   OFF, unscheduled 600
    # 09:00-09:20 (READY, NR3)     -> READY           IN 1200
    # 09:20-09:32 (TALK, NR3)/(TALK, TALK)/(WNR, TALK) -> TALKING one run, IN 720
    # 09:32-09:35 (WNR, READY)     -> WORK_NOT_READY  IN 180
    # 09:35-09:55 (READY, READY)/(READY, NR3) -> READY one run, IN 1200
    # 09:55-10:00 (NR9, NR3)       -> NOT_READY, reason of identity ("1","v701") = 9, OUT 300
    # 10:00-10:05 (LOGOUT, NR3)    -> NOT_READY r3   OFF, unscheduled 300
    # IN = 1200+720+180+1200 = 3300; OUT = 300; unscheduled = 900
    # actualInService (effective) = 3300
    # adherence = conformity = 100*3300/3600 = 91.666.. -> 91.7
    # READING: actualInServiceSeconds counts the effective state.
    check(sums[("t1", 701, DAY)], scheduled=3600, sched_is=3600, actual_is=3300,
          inn=3300, out=300, neutral=0, unsched=900, adherence=91.7, conformity=91.7,
          acd="v701",
          details=[Dt("in_service", u(9), 3300, 300, [
              A(READY, u(9), 1200, 0),
              A(TALKING, u(9, 20), 720, 0),
              A(WORK_NOT_READY, u(9, 32), 180, 0),
              A(READY, u(9, 35), 1200, 0),
              A(NOT_READY, u(9, 55), 0, 300, reason=9),
          ])])


# --------------------------------------------------------------------------
# 8. identity known only after its states
# --------------------------------------------------------------------------

def test_identity_known_after_its_states():
    records = [
        state("a801", u(9), READY),
        state("a801", u(10), LOGOUT),
        state("c801", u(10), TALKING, server="2"),
        state("c801", u(10, 30), LOGOUT, server="2"),
        # first message names only (1, a801)
        day_schedule(801, "a801", [act("in_service", u(9), u(11))]),
        # second message (same schedule) adds (2, c801)
        day_schedule(801, "a801", [act("in_service", u(9), u(11))],
                     identities=[("2", "c801")]),
    ]
    res = replay(records)
    assert rejected_indices(res) == set()   # held, then applied: nothing rejected
    sums = by_key(res)
    assert set(sums) == {("t1", 801, DAY)}
    # in_service 09:00-11:00 = 7200
    # READY (a801) 09:00-10:00 IN 3600; TALKING (c801) 10:00-10:30 IN 1800;
    # LOGOUT 10:30-11:00 OUT 1800
    # adherence = conformity = 100*5400/7200 = 75.0
    check(sums[("t1", 801, DAY)], scheduled=7200, sched_is=7200, actual_is=5400,
          inn=5400, out=1800, neutral=0, unsched=0, adherence=75.0, conformity=75.0,
          acd="a801",
          details=[Dt("in_service", u(9), 5400, 1800, [
              A(READY, u(9), 3600, 0),
              A(TALKING, u(10), 1800, 0),
              A(LOGOUT, u(10, 30), 0, 1800),
          ])])


# --------------------------------------------------------------------------
# 9. duplicates and same-timestamp conflicts
# --------------------------------------------------------------------------

def test_duplicates_idempotent_and_conflicting_id_not_applied():
    records = [
        day_schedule(901, "a901", [act("in_service", u(9), u(10))]),   # 0
        state("a901", u(9), READY, eid="e1"),                           # 1
        state("a901", u(9, 30), NOT_READY, eid="e2"),                   # 2
        state("a901", u(9, 40), READY),                                 # 3 id-less
        state("a901", u(9, 40), READY),                                 # 4 id-less exact duplicate
        state("a901", u(9), READY, eid="e1"),                           # 5 duplicate re-send
        state("a901", u(9, 50), NOT_READY, eid="e2"),                   # 6 known id, other body: conflict
        state("a901", u(10), LOGOUT, eid="e3", reasonCode=""),          # 7 blank reason = null
    ]
    res = replay(records)
    rej = rejected_indices(res)
    # READING: a conflicting body under a known eventId is "not applied" and so
    # listed in `rejected`; whether plain duplicates (4, 5) are listed is left open.
    assert 6 in rej
    assert rej.isdisjoint({0, 1, 2, 3, 7})
    sums = by_key(res)
    assert set(sums) == {("t1", 901, DAY)}
    # READY 09:00-09:30 IN 1800; NOT_READY 09:30-09:40 OUT 600; READY 09:40-10:00 IN 1200
    # (had record 6 been applied, 09:50-10:00 would be OUT too)
    # IN 3000, OUT 600: adherence = conformity = 100*3000/3600 = 83.33.. -> 83.3
    check(sums[("t1", 901, DAY)], scheduled=3600, sched_is=3600, actual_is=3000,
          inn=3000, out=600, neutral=0, unsched=0, adherence=83.3, conformity=83.3,
          details=[Dt("in_service", u(9), 3000, 600, [
              A(READY, u(9), 1800, 0),
              A(NOT_READY, u(9, 30), 0, 600),
              A(READY, u(9, 40), 1200, 0),
          ])])


# (event A kwargs, event B kwargs, winner (gis, reason))
SAME_TS_CASES = {
    # eventId decides first: ("x2", 2, "") > ("x1", 3, "")
    "event_id_decides": (dict(gis=NOT_READY, eid="x2"), dict(gis=READY, eid="x1"),
                         (NOT_READY, None)),
    # both id-less: ("", 3, "") > ("", 2, "")
    "state_decides": (dict(gis=READY), dict(gis=NOT_READY), (READY, None)),
    # same state, reason by string: "9" > "10"
    # READING: reasons compared as Python strings (lexicographic).
    "reason_decides": (dict(gis=NOT_READY, reason=10), dict(gis=NOT_READY, reason=9),
                       (NOT_READY, 9)),
    # an id beats no id: ("a", 1, "") > ("", 4, "")
    "id_beats_no_id": (dict(gis=LOGOUT, eid="a"), dict(gis=TALKING), (LOGOUT, None)),
}


@pytest.mark.parametrize("order", ["AB", "BA"])
@pytest.mark.parametrize("case", list(SAME_TS_CASES))
def test_same_timestamp_conflict(case, order):
    ev_a, ev_b, (win_gis, win_reason) = SAME_TS_CASES[case]

    def mk(ev):
        return state("a902", u(9, 30), ev["gis"], reason=ev.get("reason"),
                     eid=ev.get("eid"))

    pair = [mk(ev_a), mk(ev_b)] if order == "AB" else [mk(ev_b), mk(ev_a)]
    res = replay([
        day_schedule(902, "a902", [act("in_service", u(9), u(10))]),
        state("a902", u(9), TALKING, eid="base"),
        *pair,
        state("a902", u(10), LOGOUT, eid="zend"),
    ])
    sums = by_key(res)
    assert set(sums) == {("t1", 902, DAY)}
    # TALKING 09:00-09:30 IN 1800, then the winner 09:30-10:00 (1800 s); the loser lasts 0 s
    if win_gis == READY:
        # READY is IN: IN 3600, actualInService 3600 -> 100.0 / 100.0
        check(sums[("t1", 902, DAY)], scheduled=3600, sched_is=3600, actual_is=3600,
              inn=3600, out=0, neutral=0, unsched=0, adherence=100.0, conformity=100.0,
              details=[Dt("in_service", u(9), 3600, 0, [
                  A(TALKING, u(9), 1800, 0), A(READY, u(9, 30), 1800, 0)])])
    else:
        # NOT_READY / LOGOUT are OUT: IN 1800, OUT 1800 -> 50.0; actualInService 1800 -> 50.0
        check(sums[("t1", 902, DAY)], scheduled=3600, sched_is=3600, actual_is=1800,
              inn=1800, out=1800, neutral=0, unsched=0, adherence=50.0, conformity=50.0,
              details=[Dt("in_service", u(9), 1800, 1800, [
                  A(TALKING, u(9), 1800, 0),
                  A(win_gis, u(9, 30), 0, 1800, reason=win_reason)])])


# --------------------------------------------------------------------------
# 10. switch tolerance
# --------------------------------------------------------------------------

TOL_TENANTS = {"tol": {"time_zone": "UTC", "switch_tolerance_seconds": 30}}


def test_switch_tolerance():
    res = replay([
        day_schedule(1001, "a1001", [act("in_service", u(9), u(11)),
                                     act("break", u(10), u(10, 15))], tenant="tol"),
        state("a1001", u(9, 0, 10), READY, tenant="tol"),
        state("a1001", u(9, 30), NOT_READY, tenant="tol"),
        state("a1001", u(9, 30, 40), READY, tenant="tol"),
        state("a1001", u(9, 59), TALKING, tenant="tol"),
        state("a1001", u(10, 0, 45), NOT_READY, tenant="tol"),
        state("a1001", u(10, 15, 20), READY, tenant="tol"),
        state("a1001", u(11), LOGOUT, tenant="tol"),
    ], tenants=TOL_TENANTS)
    sums = by_key(res)
    assert set(sums) == {("tol", 1001, DAY)}
    # part in_service 09:00-10:00 (3600):
    #   LOGOUT 09:00:00-09:00:10 OUT-by-rule, inside [09:00, 09:00:30) -> NEUTRAL 10
    #   READY 09:00:10-09:30:00 IN 1790; NOT_READY 09:30:00-09:30:40 OUT 40 (mid-part)
    #   READY 09:30:40-09:59:00 IN 1700; TALKING 09:59-10:00 IN 60
    #   -> IN 3550, OUT 40, NEUTRAL 10
    # part break 10:00-10:15 (900):
    #   TALKING 10:00:00-10:00:30 NEUTRAL 30; 10:00:30-10:00:45 OUT 15
    #   NOT_READY 10:00:45-10:15:00 IN 855
    #   -> IN 855, OUT 15, NEUTRAL 30
    # part in_service 10:15-11:00 (2700):
    #   NOT_READY 10:15:00-10:15:20 NEUTRAL 20; READY 10:15:20-11:00 IN 2680
    # IN = 3550+855+2680 = 7085; OUT = 40+15 = 55; NEUTRAL = 10+30+20 = 60; sum 7200
    # actualInService = 1790 + (09:30:40-10:00:45 = 1805) + 2680 = 6275
    # adherence = 100*7085/7140 = 99.229.. -> 99.2
    # conformity = 100*6275/6300 = 99.603.. -> 99.6
    check(sums[("tol", 1001, DAY)], scheduled=7200, sched_is=6300, actual_is=6275,
          inn=7085, out=55, neutral=60, unsched=0, adherence=99.2, conformity=99.6,
          details=[
              Dt("in_service", u(9), 3550, 40, [
                  A(LOGOUT, u(9), 0, 0),
                  A(READY, u(9, 0, 10), 1790, 0),
                  A(NOT_READY, u(9, 30), 0, 40),
                  A(READY, u(9, 30, 40), 1700, 0),
                  A(TALKING, u(9, 59), 60, 0)]),
              Dt("break", u(10), 855, 15, [
                  A(TALKING, u(10), 0, 15),
                  A(NOT_READY, u(10, 0, 45), 855, 0)]),
              Dt("in_service", u(10, 15), 2680, 0, [
                  A(NOT_READY, u(10, 15), 0, 0),
                  A(READY, u(10, 15, 20), 2680, 0)]),
          ])


def test_switch_tolerance_not_at_local_midnight():
    res = replay([
        schedule(1002, "a1002", u(20), u1(4), [act("in_service", u(23), u1(1))],
                 tenant="tol"),
        state("a1002", u(23), READY, tenant="tol"),
        state("a1002", u1(0), LOGOUT, tenant="tol"),
        state("a1002", u1(0, 0, 20), READY, tenant="tol"),
        state("a1002", u1(1), LOGOUT, tenant="tol"),
    ], tenants=TOL_TENANTS)
    sums = by_key(res)
    assert set(sums) == {("tol", 1002, DAY), ("tol", 1002, DAY1)}
    # day 1: 23:00-24:00 READY IN 3600
    check(sums[("tol", 1002, DAY)], scheduled=3600, sched_is=3600, actual_is=3600,
          inn=3600, out=0, neutral=0, unsched=0, adherence=100.0, conformity=100.0,
          details=[Dt("in_service", u(23), 3600, 0, [A(READY, u(23), 3600, 0)])])
    # day 2: part starts at midnight, which is not an activity boundary:
    #   LOGOUT 00:00:00-00:00:20 OUT 20 (not neutral); READY 00:00:20-01:00 IN 3580
    #   adherence = conformity = 100*3580/3600 = 99.44.. -> 99.4
    check(sums[("tol", 1002, DAY1)], scheduled=3600, sched_is=3600, actual_is=3580,
          inn=3580, out=20, neutral=0, unsched=0, adherence=99.4, conformity=99.4,
          details=[Dt("in_service", u1(0), 3580, 20, [
              A(LOGOUT, u1(0), 0, 20), A(READY, u1(0, 0, 20), 3580, 0)])])


# --------------------------------------------------------------------------
# 11. rule overrides by reason code
# --------------------------------------------------------------------------

# READING: override entries use the canonical state name ("NOT_READY"), the
# category name, and adherence "IN" / "OUT" / "NEUTRAL".
OVR_TENANTS = {
    "ovr1": {"time_zone": "UTC", "rule_overrides": [
        {"category": "BREAK", "state": "NOT_READY", "reason_code": 7, "adherence": "OUT"},
    ]},
    "ovr2": {"time_zone": "UTC", "rule_overrides": [
        # with-reason listed first, without-reason last: precedence is by
        # specificity, not list order
        {"category": "BREAK", "state": "NOT_READY", "reason_code": 7, "adherence": "OUT"},
        {"category": "BREAK", "state": "NOT_READY", "adherence": "NEUTRAL"},
    ]},
}


@pytest.mark.parametrize("tenant", ["ovr1", "ovr2"])
def test_rule_override_by_reason_code(tenant):
    res = replay([
        day_schedule(1101, "a1101", [act("break", u(10), u(10, 40))], tenant=tenant),
        state("a1101", u(10), NOT_READY, reason=7, tenant=tenant),
        state("a1101", u(10, 10), NOT_READY, reason=8, tenant=tenant),
        state("a1101", u(10, 20), NOT_READY, reason="7", tenant=tenant),  # matches 7 by string form
        state("a1101", u(10, 30), NOT_READY, tenant=tenant),
        state("a1101", u(10, 40), LOGOUT, tenant=tenant),
    ], tenants=OVR_TENANTS)
    s = by_key(res)[(tenant, 1101, DAY)]
    if tenant == "ovr1":
        # r7 OUT 600 (override); r8 IN 600 (default); "7" OUT 600; null IN 600
        # IN 1200, OUT 1200 -> adherence 50.0; no scheduled in service -> conformity null
        check(s, scheduled=2400, sched_is=0, actual_is=0, inn=1200, out=1200,
              neutral=0, unsched=0, adherence=50.0, conformity=None,
              details=[Dt("break", u(10), 1200, 1200, [
                  A(NOT_READY, u(10), 0, 600, reason=7),
                  A(NOT_READY, u(10, 10), 600, 0, reason=8),
                  A(NOT_READY, u(10, 20), 0, 600, reason="7"),
                  A(NOT_READY, u(10, 30), 600, 0)])])
    else:
        # r7 OUT 600; r8 NEUTRAL 600 (override without reason); "7" OUT 600; null NEUTRAL 600
        # IN 0, OUT 1200 -> adherence 0.0
        check(s, scheduled=2400, sched_is=0, actual_is=0, inn=0, out=1200,
              neutral=1200, unsched=0, adherence=0.0, conformity=None,
              details=[Dt("break", u(10), 0, 1200, [
                  A(NOT_READY, u(10), 0, 600, reason=7),
                  A(NOT_READY, u(10, 10), 0, 0, reason=8),
                  A(NOT_READY, u(10, 20), 0, 600, reason="7"),
                  A(NOT_READY, u(10, 30), 0, 0)])])


# --------------------------------------------------------------------------
# 12. rounding of seconds and percentages, nulls, output order
# --------------------------------------------------------------------------

def test_rounding_nulls_and_order():
    res = replay([
        # agent 9: in_service 09:00:00.000-09:00:02.000
        day_schedule(9, "a9", [act("in_service", u(9), u(9, 0, 2))]),
        state("a9", u(9), READY),
        state("a9", u(9, 0, 1, 500), NOT_READY),
        state("a9", u(9, 0, 2), LOGOUT),
        # agent 10: in_service 10:00-11:00, NOT_READY from 10:58:57
        day_schedule(10, "a10", [act("in_service", u(10), u(11))]),
        state("a10", u(10), READY),
        state("a10", u(10, 58, 57), NOT_READY),
        state("a10", u(11), LOGOUT),
        # agent 100: in_service 11:00:00.000-11:00:05.000
        day_schedule(100, "a100", [act("in_service", u(11), u(11, 0, 5))]),
        state("a100", u(11), READY),
        state("a100", u(11, 0, 1, 499), NOT_READY),
        state("a100", u(11, 0, 2), READY),
        state("a100", u(11, 0, 4, 500), LOGOUT),
        # agent 1000: break only -> conformity null
        day_schedule(1000, "a1000", [act("break", u(12), u(12, 10))]),
        state("a1000", u(12), NOT_READY),
        state("a1000", u(12, 10), LOGOUT),
        # agent 2000: UNKNOWN through in_service -> IN+OUT = 0 -> adherence null
        day_schedule(2000, "a2000", [act("in_service", u(13), u(13, 10))]),
        state("a2000", u(13), UNKNOWN),
        state("a2000", u(13, 10), LOGOUT),
    ])
    assert rejected_indices(res) == set()
    # numeric agent ids sort numerically (not "10" < "100" < "1000" < "2000" < "9")
    assert [s["agentId"] for s in res.summaries] == [9, 10, 100, 1000, 2000]
    sums = by_key(res)

    # agent 9: IN 1500 ms -> 2 s; OUT 500 ms -> 1 s (half up); scheduled 2000 ms -> 2
    #   adherence from ms = 100*1500/2000 = 75.0 (not 100*2/3 from rounded seconds)
    #   actualInService 1500 ms -> 2; conformity 75.0
    check(sums[("t1", 9, DAY)], scheduled=2, sched_is=2, actual_is=2,
          inn=2, out=1, neutral=0, unsched=0, adherence=75.0, conformity=75.0,
          details=[Dt("in_service", u(9), 2, 1, [
              A(READY, u(9), 2, 0), A(NOT_READY, u(9, 0, 1, 500), 0, 1)])])

    # agent 10: IN 10:00-10:58:57 = 3537 s, OUT 63 s
    #   100*3537/3600 = 98.25 exactly -> 98.3 half up (floor((2000*3537+3600)/7200) = 983)
    #   (float round(98.25, 1) would give 98.2)
    check(sums[("t1", 10, DAY)], scheduled=3600, sched_is=3600, actual_is=3537,
          inn=3537, out=63, neutral=0, unsched=0, adherence=98.3, conformity=98.3,
          details=[Dt("in_service", u(10), 3537, 63, [
              A(READY, u(10), 3537, 0), A(NOT_READY, u(10, 58, 57), 0, 63)])])

    # agent 100: READY 0-1.499 s (1499 ms IN -> 1), NOT_READY 1.499-2.000 (501 ms OUT -> 1),
    #   READY 2.000-4.500 (2500 ms IN -> 3), LOGOUT 4.500-5.000 (500 ms OUT -> 1)
    #   IN = 1499+2500 = 3999 ms -> 4; OUT = 501+500 = 1001 ms -> 1 (not 1+1 = 2)
    #   scheduled 5000 ms -> 5; actualInService 3999 ms -> 4
    #   adherence = conformity = 100*3999/5000 = 79.98 -> 80.0
    check(sums[("t1", 100, DAY)], scheduled=5, sched_is=5, actual_is=4,
          inn=4, out=1, neutral=0, unsched=0, adherence=80.0, conformity=80.0,
          details=[Dt("in_service", u(11), 4, 1, [
              A(READY, u(11), 1, 0),
              A(NOT_READY, u(11, 0, 1, 499), 0, 1),
              A(READY, u(11, 0, 2), 3, 0),
              A(LOGOUT, u(11, 0, 4, 500), 0, 1)])])

    # agent 1000: break 600 s NOT_READY -> IN 600; adherence 100.0;
    #   scheduled in service 0 ms -> conformity null
    check(sums[("t1", 1000, DAY)], scheduled=600, sched_is=0, actual_is=0,
          inn=600, out=0, neutral=0, unsched=0, adherence=100.0, conformity=None,
          details=[Dt("break", u(12), 600, 0, [A(NOT_READY, u(12), 600, 0)])])

    # agent 2000: UNKNOWN in in_service -> NEUTRAL 600; IN+OUT = 0 -> adherence null;
    #   UNKNOWN is not in service -> conformity 100*0/600 = 0.0
    check(sums[("t1", 2000, DAY)], scheduled=600, sched_is=600, actual_is=0,
          inn=0, out=0, neutral=600, unsched=0, adherence=None, conformity=0.0,
          details=[Dt("in_service", u(13), 0, 0, [A(UNKNOWN, u(13), 0, 0)])])


# --------------------------------------------------------------------------
# 13. as_of in the middle of a shift
# --------------------------------------------------------------------------

def test_as_of_mid_shift():
    # READING: no state events after as_of in the log (avoids the
    # "ahead of the clock" question); the agent is still READY at as_of.
    res = replay([
        day_schedule(1301, "a1301", [act("in_service", u(9), u(12)),
                                     act("break", u(12), u(12, 30)),
                                     act("in_service", u(12, 30), u(17))]),
        state("a1301", u(8, 55), READY),
        state("a1301", u(10), NOT_READY),
        state("a1301", u(10, 20), READY),
    ], as_of=u(11))
    sums = by_key(res)
    assert set(sums) == {("t1", 1301, DAY)}
    # scheduled (whole day): 10800 + 1800 + 16200 = 28800; in service 10800+16200 = 27000
    # states up to 11:00:
    #   READY 08:55-09:00 in OFF time -> unscheduled 300
    #   READY 09:00-10:00 IN 3600; NOT_READY 10:00-10:20 OUT 1200; READY 10:20-11:00 IN 2400
    #   IN 6000, OUT 1200 (= counted time before as_of, 7200)
    #   actualInService = 3900 (08:55-10:00) + 2400 = 6300
    # adherence = 100*6000/7200 = 83.33.. -> 83.3
    # READING: conformity uses the whole-day scheduled in-service time:
    #   100*6300/27000 = 23.33.. -> 23.3
    check(sums[("t1", 1301, DAY)], scheduled=28800, sched_is=27000, actual_is=6300,
          inn=6000, out=1200, neutral=0, unsched=300, adherence=83.3, conformity=23.3,
          details=[
              Dt("in_service", u(9), 6000, 1200, [
                  A(READY, u(9), 3600, 0),
                  A(NOT_READY, u(10), 0, 1200),
                  A(READY, u(10, 20), 2400, 0)]),
              Dt("break", u(12), 0, 0, []),
              Dt("in_service", u(12, 30), 0, 0, []),
          ])


# --------------------------------------------------------------------------
# 14. invalid records / too-late records
# --------------------------------------------------------------------------

def test_invalid_records_rejected_others_applied():
    records = [
        day_schedule(1401, "a1401", [act("in_service", u(9), u(10))]),           # 0 ok
        state("a1401", u(9), READY),                                              # 1 ok
        state("a1401", u(9, 10), "2.0"),                                          # 2 bad state
        state("a1401", u(9, 12), 11),                                             # 3 bad state
        state("a1401", str(u(9, 14)), NOT_READY),                                 # 4 string ts
        state("a1401", u(9, 15), NOT_READY, reason=0),                            # 5 reason 0
        state("a1401", u(9, 16), NOT_READY, reason=True),                         # 6 bool reason
        {"kind": "state", "body": {"tenantId": "t1", "acdServerId": "1",          # 7 no acdAgentId
                                   "gisStateIdentifier": 2, "timestamp": u(9, 17)}},
        schedule(1401, "a1401", u(10), u(9), [act("break", u(9), u(9, 30))]),    # 8 from >= to
        schedule(1401, "a1401", u(9), u(10),                                      # 9 empty activity
                 [act("break", u(9), u(9, 30)), act("in_service", u(9, 30), u(9, 30))]),
        state("a1401", u(9, 40), "2", reason="   "),                             # 10 ok: "2", blank = null
        state("a1401", u(10), LOGOUT),                                            # 11 ok
        state("a1401", u(9, 18), NOT_READY, tenant=""),                           # 12 blank tenant
        state("a1401", float(u(9, 19)), NOT_READY),                               # 13 float ts
        {"kind": "schedule", "body": {"tenantId": "t1", "agentId": 1401,          # 14 no activities
                                      "acdAgentId": "a1401", "fromTimestamp": u(9),
                                      "toTimestamp": u(10)}},
        {"kind": "bogus", "body": {}},                                            # 15 unknown kind
        state("a1401", u(9, 20), True),                                           # 16 bool state
        state("a1401", u(9, 21), 0),                                              # 17 state 0
    ]
    res = replay(records)
    # READING: an activity with startTime >= endTime invalidates its whole
    # schedule message; an unknown record kind is rejected (not raised).
    assert rejected_indices(res) == {2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17}
    sums = by_key(res)
    assert set(sums) == {("t1", 1401, DAY)}
    # READY 09:00-09:40 IN 2400; NOT_READY 09:40-10:00 OUT 1200
    # adherence = conformity = 100*2400/3600 = 66.66.. -> 66.7
    check(sums[("t1", 1401, DAY)], scheduled=3600, sched_is=3600, actual_is=2400,
          inn=2400, out=1200, neutral=0, unsched=0, adherence=66.7, conformity=66.7,
          details=[Dt("in_service", u(9), 2400, 1200, [
              A(READY, u(9), 2400, 0), A(NOT_READY, u(9, 40), 0, 1200)])])


def test_too_late_event_rejected_at_horizon():
    tenants = {"late": {"time_zone": "UTC", "lateness_horizon_seconds": 3600}}
    records = [
        day_schedule(1402, "a1402", [act("in_service", u(8), u(10))], tenant="late"),  # 0
        state("a1402", u(8), READY, tenant="late"),                                   # 1
        state("a1402", u(10), LOGOUT, tenant="late"),                                 # 2 newest: 10:00
        # 3: 09:00 = 10:00 - 3600 s, not older than the horizon -> applied
        state("a1402", u(9), NOT_READY, tenant="late"),
        # 4: 08:30 < 09:00 -> too late, rejected
        state("a1402", u(8, 30), NOT_READY, tenant="late"),
        # 5: 08:59:59.999 < 09:00 -> too late, rejected
        state("a1402", u(8, 59, 59, 999), LOGOUT, tenant="late"),
    ]
    res = replay(records, tenants=tenants)
    assert rejected_indices(res) == {4, 5}
    # READY 08:00-09:00 IN 3600; NOT_READY 09:00-10:00 OUT 3600 -> 50.0 / 50.0
    check(by_key(res)[("late", 1402, DAY)], scheduled=7200, sched_is=7200,
          actual_is=3600, inn=3600, out=3600, neutral=0, unsched=0,
          adherence=50.0, conformity=50.0,
          details=[Dt("in_service", u(8), 3600, 3600, [
              A(READY, u(8), 3600, 0), A(NOT_READY, u(9), 0, 3600)])])
