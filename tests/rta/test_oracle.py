"""Self-check of the reference oracle on tiny hand-computed scenarios."""

from __future__ import annotations

from datetime import datetime

from tests.support.oracle import reference_ms, reference_summaries

T = "t1"


def ms(iso: str) -> int:
    """'2026-03-06T09:00Z' -> epoch ms (whole seconds only)."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) * 1000


def sched(agent, acd, frm, to, acts, tenant=T, **extra):
    body = {
        "tenantId": tenant, "agentId": agent, "acdAgentId": acd,
        "fromTimestamp": ms(frm), "toTimestamp": ms(to),
        "activities": [
            {"activityType": a, "startTime": ms(s), "endTime": ms(e)} for a, s, e in acts
        ],
    }
    body.update(extra)
    return {"kind": "schedule", "body": body}


def ev(acd, at, state, reason=None, tenant=T, server=None, event_id=None):
    body = {"tenantId": tenant, "acdAgentId": acd, "timestamp": ms(at),
            "gisStateIdentifier": state, "reasonCode": reason}
    if server is not None:
        body["acdServerId"] = server
    if event_id is not None:
        body["eventId"] = event_id
    return {"kind": "state", "body": body}


def figures(s):
    keys = ("scheduledSeconds", "scheduledInServiceSeconds", "actualInServiceSeconds",
            "inAdherenceSeconds", "notInAdherenceSeconds", "neutralSeconds",
            "unscheduledSeconds", "scheduleAdherence", "scheduleConformity")
    return {k: s[k] for k in keys}


def actuals(detail):
    return [(a["actualAgentState"], a["gisStateIdentifier"], a["actualAgentStateStartTime"],
             a["actualReasonCode"], a["inAdherenceSeconds"], a["outOfAdherenceSeconds"])
            for a in detail["actuals"]]


def conserved(records, **kw):
    for key, m in reference_ms(records, **kw).items():
        assert m["in"] + m["out"] + m["neutral"] <= m["scheduled"], key
        if kw.get("as_of") is None:
            assert m["in"] + m["out"] + m["neutral"] == m["scheduled"], key


# ---------------------------------------------------------------------------


def test_one_shift():
    d = "2026-03-06T"
    records = [
        sched(1001, "100", d + "00:00Z", "2026-03-07T00:00Z",
              [("IN_SERVICE", d + "09:00Z", d + "17:00Z")]),
        ev("100", d + "09:05Z", "3"),
        ev("100", d + "12:00Z", 2, reason=5),
        ev("100", d + "12:30Z", 3),
        ev("100", d + "17:10Z", 1),
    ]
    out = reference_summaries(records)
    assert len(out) == 1
    s = out[0]
    assert (s["tenantId"], s["agentId"], s["acdAgentId"], s["date"]) == (T, 1001, "100", "2026-03-06")
    assert figures(s) == {
        "scheduledSeconds": 28800, "scheduledInServiceSeconds": 28800,
        "actualInServiceSeconds": 27300, "inAdherenceSeconds": 26700,
        "notInAdherenceSeconds": 2100, "neutralSeconds": 0, "unscheduledSeconds": 600,
        "scheduleAdherence": 92.7, "scheduleConformity": 94.8,
    }
    [det] = s["details"]
    assert det["scheduledActivityType"] == "IN_SERVICE"
    assert det["scheduledActivityStartTime"] == ms(d + "09:00Z")
    assert (det["inAdherenceSeconds"], det["outOfAdherenceSeconds"]) == (26700, 2100)
    assert actuals(det) == [
        ("LOGGED_OUT", 1, ms(d + "09:00Z"), None, 0, 300),
        ("READY_WAITING", 3, ms(d + "09:05Z"), None, 10500, 0),
        ("NOT_READY_BUSY", 2, ms(d + "12:00Z"), 5, 0, 1800),
        ("READY_WAITING", 3, ms(d + "12:30Z"), None, 16200, 0),
    ]
    conserved(records)


def _break_records():
    d = "2026-03-06T"
    return d, [
        # One message; BREAK listed later paints over IN_SERVICE.
        sched("7", "200", d + "08:00Z", d + "18:00Z",
              [("in_service", d + "10:00Z", d + "14:00Z"),
               ("Break", d + "12:00Z", d + "12:15Z")]),
        ev("200", d + "10:00Z", 3),
        ev("200", d + "12:00Z", 2, reason="7"),
        ev("200", d + "12:20Z", 3, reason="   "),  # blank reason = null
        ev("200", d + "14:00Z", 1),
    ]


def test_break_overrun_and_painting():
    d, records = _break_records()
    [s] = reference_summaries(records)
    assert s["agentId"] == "7"
    assert figures(s) == {
        "scheduledSeconds": 14400, "scheduledInServiceSeconds": 13500,
        "actualInServiceSeconds": 13200, "inAdherenceSeconds": 14100,
        "notInAdherenceSeconds": 300, "neutralSeconds": 0, "unscheduledSeconds": 0,
        "scheduleAdherence": 97.9, "scheduleConformity": 97.8,
    }
    dets = s["details"]
    assert [(x["scheduledActivityType"], x["scheduledActivityStartTime"]) for x in dets] == [
        ("in_service", ms(d + "10:00Z")), ("Break", ms(d + "12:00Z")),
        ("in_service", ms(d + "12:15Z")),
    ]
    assert actuals(dets[1]) == [("NOT_READY_BUSY", 2, ms(d + "12:00Z"), "7", 900, 0)]
    assert actuals(dets[2]) == [
        ("NOT_READY_BUSY", 2, ms(d + "12:15Z"), "7", 0, 300),
        ("READY_WAITING", 3, ms(d + "12:20Z"), None, 6000, 0),
    ]
    conserved(records)


def test_break_overrun_with_switch_tolerance():
    _, records = _break_records()
    tenants = {T: {"switch_tolerance_seconds": 600}}
    [s] = reference_summaries(records, tenants=tenants)
    assert (s["inAdherenceSeconds"], s["notInAdherenceSeconds"], s["neutralSeconds"]) == (14100, 0, 300)
    assert s["scheduleAdherence"] == 100.0
    conserved(records, tenants=tenants)


def test_rule_override_with_reason():
    _, records = _break_records()
    tenants = {T: {"rule_overrides": [
        {"category": "IN_SERVICE", "state": "NOT_READY", "adherence": "NEUTRAL"},
        {"category": "IN_SERVICE", "state": 2, "reason_code": 7, "adherence": "IN"},
    ]}}
    [s] = reference_summaries(records, tenants=tenants)
    # reason "7" matches reason_code 7 by string form: the 5 min overrun is IN.
    assert (s["inAdherenceSeconds"], s["notInAdherenceSeconds"], s["neutralSeconds"]) == (14400, 0, 0)


def test_as_of_inside_the_day():
    d, records = _break_records()
    [s] = reference_summaries(records, as_of=ms(d + "12:10Z"))
    assert figures(s) == {
        "scheduledSeconds": 14400, "scheduledInServiceSeconds": 13500,
        "actualInServiceSeconds": 7200, "inAdherenceSeconds": 7800,
        "notInAdherenceSeconds": 0, "neutralSeconds": 0, "unscheduledSeconds": 0,
        "scheduleAdherence": 100.0, "scheduleConformity": 53.3,
    }
    assert actuals(s["details"][1]) == [("NOT_READY_BUSY", 2, ms(d + "12:00Z"), "7", 600, 0)]
    assert s["details"][2]["actuals"] == []
    conserved(records, as_of=ms(d + "12:10Z"))


def test_midnight_crossing_shift_utc():
    d1, d2 = "2026-03-06T", "2026-03-07T"
    records = [
        sched(5, "500", d1 + "00:00Z", d2 + "12:00Z",
              [("IN_SERVICE", d1 + "22:00Z", d2 + "02:00Z")]),
        ev("500", d1 + "21:55Z", 3),
        ev("500", d1 + "23:30Z", 2),
        ev("500", d2 + "00:30Z", 3),
        ev("500", d2 + "02:00Z", 1),
    ]
    # Tolerance applies after the part start (22:00), never after midnight.
    tenants = {T: {"switch_tolerance_seconds": 3600}}
    out = reference_summaries(records, tenants=tenants)
    assert [s["date"] for s in out] == ["2026-03-06", "2026-03-07"]
    s1, s2 = out
    assert figures(s1) == {
        "scheduledSeconds": 7200, "scheduledInServiceSeconds": 7200,
        "actualInServiceSeconds": 5700, "inAdherenceSeconds": 5400,
        "notInAdherenceSeconds": 1800, "neutralSeconds": 0, "unscheduledSeconds": 300,
        "scheduleAdherence": 75.0, "scheduleConformity": 79.2,
    }
    assert figures(s2) == {
        "scheduledSeconds": 7200, "scheduledInServiceSeconds": 7200,
        "actualInServiceSeconds": 5400, "inAdherenceSeconds": 5400,
        "notInAdherenceSeconds": 1800, "neutralSeconds": 0, "unscheduledSeconds": 0,
        "scheduleAdherence": 75.0, "scheduleConformity": 75.0,
    }
    [det2] = s2["details"]
    assert det2["scheduledActivityStartTime"] == ms(d2 + "00:00Z")
    assert actuals(det2) == [
        ("NOT_READY_BUSY", 2, ms(d2 + "00:00Z"), None, 0, 1800),
        ("READY_WAITING", 3, ms(d2 + "00:30Z"), None, 5400, 0),
    ]
    conserved(records, tenants=tenants)


def test_dst_spring_forward_chicago_23h():
    # 2026-03-08 in America/Chicago: 06:00Z .. 2026-03-09 05:00Z (23 h).
    records = [
        sched(42, "420", "2026-03-08T00:00Z", "2026-03-10T00:00Z",
              # 01:00 CST .. 04:00 CDT = 2 h of wall time 3 h.
              [("IN_SERVICE", "2026-03-08T07:00Z", "2026-03-08T09:00Z")]),
        ev("420", "2026-03-08T05:00Z", 3),  # 2026-03-07 23:00 CST
        ev("420", "2026-03-09T06:00Z", 1),  # 2026-03-09 01:00 CDT
    ]
    tenants = {T: {"time_zone": "America/Chicago"}}
    out = reference_summaries(records, tenants=tenants)
    assert [s["date"] for s in out] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    a, b, c = out
    assert (a["unscheduledSeconds"], a["actualInServiceSeconds"], a["scheduledSeconds"]) == (3600, 3600, 0)
    assert a["scheduleAdherence"] is None and a["scheduleConformity"] is None
    assert a["details"] == []
    assert figures(b) == {
        "scheduledSeconds": 7200, "scheduledInServiceSeconds": 7200,
        "actualInServiceSeconds": 82800, "inAdherenceSeconds": 7200,
        "notInAdherenceSeconds": 0, "neutralSeconds": 0, "unscheduledSeconds": 75600,
        "scheduleAdherence": 100.0, "scheduleConformity": 1150.0,
    }
    assert (c["unscheduledSeconds"], c["scheduledSeconds"]) == (3600, 0)
    m = reference_ms(records, tenants=tenants)
    assert m[(T, "42", "2026-03-08")]["actual_in_service"] == 23 * 3600 * 1000
    # The same data in UTC: day 2026-03-08 is a plain 24 h day.
    m_utc = reference_ms(records)
    assert m_utc[(T, "42", "2026-03-08")]["actual_in_service"] == 19 * 3600 * 1000


def test_dst_fall_back_chicago_25h():
    records = [
        sched(43, "430", "2026-11-01T00:00Z", "2026-11-01T01:00Z", []),
        ev("430", "2026-11-01T04:00Z", 4),  # 2026-10-31 23:00 CDT
        ev("430", "2026-11-02T07:00Z", 1),  # 2026-11-02 01:00 CST
    ]
    m = reference_ms(records, tenants={T: {"time_zone": "America/Chicago"}})
    assert m[(T, "43", "2026-11-01")]["unscheduled"] == 25 * 3600 * 1000
    assert m[(T, "43", "2026-10-31")]["unscheduled"] == 3600 * 1000
    assert m[(T, "43", "2026-11-02")]["unscheduled"] == 3600 * 1000


def test_multichannel_held_events_and_duplicates():
    d = "2026-03-06T"
    records = [
        # Chat events arrive before any schedule names the chat identity: held.
        ev("chat-7", d + "09:10Z", "4", server="2", event_id="c1"),
        ev("chat-7", d + "09:10Z", "2", server="2", event_id="c1"),  # conflict: ignored
        sched(7, 100, d + "00:00Z", "2026-03-07T00:00Z",
              [("IN_SERVICE", d + "09:00Z", d + "10:00Z")],
              acdIdentities=[{"acdServerId": 2, "acdAgentId": "chat-7"}]),
        ev(100, d + "09:00Z", 3, event_id=""),
        ev("chat-7", d + "09:20Z", 2, server="2", event_id="c2"),
        ev("100", d + "09:30Z", 2, reason="12", server="1"),
        ev("100", d + "09:30Z", 2, reason=12),  # id-less duplicate: integer form kept
        ev("100", d + "10:00Z", 1),
        ev("chat-7", d + "10:00Z", 1, server="2"),
    ]
    [s] = reference_summaries(records)
    assert (s["agentId"], s["acdAgentId"]) == (7, "100")
    assert (s["inAdherenceSeconds"], s["notInAdherenceSeconds"]) == (1800, 1800)
    assert (s["scheduleAdherence"], s["scheduleConformity"]) == (50.0, 50.0)
    [det] = s["details"]
    assert actuals(det) == [
        ("READY_WAITING", 3, ms(d + "09:00Z"), None, 600, 0),
        ("TALK", 4, ms(d + "09:10Z"), None, 600, 0),
        ("READY_WAITING", 3, ms(d + "09:20Z"), None, 600, 0),
        # Both channels NOT_READY: reason of identity ("1", "100") first.
        ("NOT_READY_BUSY", 2, ms(d + "09:30Z"), 12, 0, 1800),
    ]


def test_window_replacement_and_agent_order():
    d = "2026-03-06T"
    records = []
    for agent in ("abc", 10, "9"):
        records.append(sched(agent, f"acd-{agent}", d + "08:00Z", d + "18:00Z",
                             [("IN_SERVICE", d + "09:00Z", d + "17:00Z")]))
    # Clear 12:00-13:00 for agent 10: the piece after the window starts at 13:00.
    records.append(sched(10, "acd-10", d + "12:00Z", d + "13:00Z", []))
    out = reference_summaries(records)
    assert [s["agentId"] for s in out] == ["9", 10, "abc"]
    s10 = out[1]
    assert (s10["scheduledSeconds"], s10["notInAdherenceSeconds"]) == (25200, 25200)
    assert (s10["scheduleAdherence"], s10["scheduleConformity"]) == (0.0, 0.0)
    assert [x["scheduledActivityStartTime"] for x in s10["details"]] == [
        ms(d + "09:00Z"), ms(d + "13:00Z")]
    assert actuals(s10["details"][1]) == [("LOGGED_OUT", 1, ms(d + "13:00Z"), None, 0, 14400)]


def test_rounding_half_up():
    d = "2026-03-06T"
    base = ms(d + "09:00Z")
    records = [
        sched(1, "1", d + "00:00Z", "2026-03-07T00:00Z",
              [("IN_SERVICE", d + "09:00Z", d + "10:00Z")]),
        {"kind": "state", "body": {"tenantId": T, "acdAgentId": "1", "timestamp": base + 1500,
                                   "gisStateIdentifier": 3, "reasonCode": None}},
    ]
    [s] = reference_summaries(records)
    # OUT = 1500 ms -> 2 s; IN = 3598500 ms -> 3599 s (3598.5 rounds up).
    assert (s["notInAdherenceSeconds"], s["inAdherenceSeconds"]) == (2, 3599)
    assert s["scheduleAdherence"] == 100.0  # 99.958.. -> 100.0
