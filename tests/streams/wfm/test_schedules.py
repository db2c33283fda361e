"""Schedule sync, the pure part (streams/wfm/schedules.py): windows, agent sets, messages, changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rta.calendar import DayCalendar
from rta.models import parse_schedule
from streams.wfm.schedules import (
    DAY_MS,
    DIGEST_FIELDS,
    AgentEntry,
    SyncAgent,
    Window,
    agent_sets,
    changed,
    day_messages,
    day_range,
    digest,
    entries_by_agent,
    plan,
    plan_windows,
    should_publish,
    stale_keys,
    sync_agents,
    valid_activities,
)

CHI = DayCalendar("America/Chicago")
HOUR = 3_600_000


def o(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def ms(iso: str) -> int:
    """A UTC instant, ISO 8601 (no zone: UTC)."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


# ---------------------------------------------------------------------- calendar facts
def test_chicago_dst_days_are_23_and_25_hours() -> None:
    s, e = CHI.bounds(o("2026-03-08"))
    assert (s, e - s) == (ms("2026-03-08T06:00:00"), 23 * HOUR)
    s, e = CHI.bounds(o("2026-11-01"))
    assert (s, e - s) == (ms("2026-11-01T05:00:00"), 25 * HOUR)


# ---------------------------------------------------------------------- windows
def _check_windows(cal: DayCalendar, windows: list[Window], first: int, last: int,
                   per_call: int) -> None:
    assert windows[0].first == first and windows[-1].last == last
    for w in windows:
        assert w.first <= w.last
        # aligned at local midnights: the window is exactly its days
        assert (w.start_ms, w.end_ms) == (cal.bounds(w.first)[0], cal.bounds(w.last)[1])
        assert len(w.days) <= per_call
        assert w.end_ms - w.start_ms <= per_call * DAY_MS or len(w.days) == 1
    for a, b in pairwise(windows):
        assert b.first == a.last + 1 and b.start_ms == a.end_ms  # contiguous, no overlap
        # greedy: one more day would break a limit
        assert (len(a.days) == per_call
                or cal.bounds(a.last + 1)[1] - a.start_ms > per_call * DAY_MS)


def test_a_window_holding_the_fall_back_day_holds_one_day_fewer() -> None:
    first, last = o("2026-10-27"), o("2026-11-12")
    windows = plan_windows(CHI, first, last, 9)
    assert [(CHI.iso(w.first), CHI.iso(w.last)) for w in windows] == [
        ("2026-10-27", "2026-11-03"), ("2026-11-04", "2026-11-12")]
    assert windows[0].end_ms - windows[0].start_ms == 8 * DAY_MS + HOUR  # 8 days, one of 25 h
    assert windows[1].end_ms - windows[1].start_ms == 9 * DAY_MS
    _check_windows(CHI, windows, first, last, 9)


def test_a_window_holding_the_spring_forward_day_holds_nine_days() -> None:
    first, last = o("2026-03-03"), o("2026-03-20")
    windows = plan_windows(CHI, first, last, 9)
    assert [(CHI.iso(w.first), CHI.iso(w.last)) for w in windows] == [
        ("2026-03-03", "2026-03-11"), ("2026-03-12", "2026-03-20")]
    assert windows[0].end_ms - windows[0].start_ms == 9 * DAY_MS - HOUR
    _check_windows(CHI, windows, first, last, 9)


def test_one_day_per_call_keeps_the_25_hour_day_whole() -> None:
    windows = plan_windows(CHI, o("2026-10-31"), o("2026-11-02"), 1)
    assert [w.end_ms - w.start_ms for w in windows] == [DAY_MS, DAY_MS + HOUR, DAY_MS]


def test_range_is_days_back_to_days_ahead_around_the_local_today() -> None:
    # 2026-03-08 03:00 UTC is still 2026-03-07 in Chicago
    first, last = day_range(CHI, ms("2026-03-08T03:00:00"), 14, 14)
    assert (CHI.iso(first), CHI.iso(last)) == ("2026-02-21", "2026-03-21")
    windows = plan(CHI, ms("2026-03-08T03:00:00"), 14, 14, 9)
    assert sum(len(w.days) for w in windows) == 29
    assert [len(w.days) for w in windows] == [9, 9, 9, 2]
    assert plan(CHI, ms("2026-03-08T03:00:00"), 0, 0, 9) == [
        Window(o("2026-03-07"), o("2026-03-07"), *CHI.bounds(o("2026-03-07")))]


ZONES = ["America/Chicago", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
         "America/Havana", "Asia/Kolkata", "Pacific/Chatham", "UTC", "America/St_Johns"]


@given(zone=st.sampled_from(ZONES),
       now=st.integers(ms("2000-01-01T00:00:00"), ms("2040-01-01T00:00:00")),
       back=st.integers(0, 40), ahead=st.integers(0, 40), per_call=st.integers(1, 9))
def test_windows_tile_the_range_exactly(zone: str, now: int, back: int, ahead: int,
                                        per_call: int) -> None:
    cal = DayCalendar(zone)
    first, last = day_range(cal, now, back, ahead)
    windows = plan(cal, now, back, ahead, per_call)
    _check_windows(cal, windows, first, last, per_call)
    assert sum(len(w.days) for w in windows) == back + ahead + 1
    assert windows[0].start_ms <= now < windows[-1].end_ms or back + ahead == 0


# ---------------------------------------------------------------------- agent sets
@given(ids=st.lists(st.integers(1, 10**6), unique=True, max_size=60),
       per_call=st.integers(1, 25))
def test_agent_sets_are_chunks_of_at_most_per_call(ids: list[int], per_call: int) -> None:
    sets = agent_sets(ids, per_call)
    assert [a for s in sets for a in s] == ids
    assert all(1 <= len(s) <= per_call for s in sets)
    assert len(sets) == -(-len(ids) // per_call)


def test_agent_sets_of_2500_agents_at_1000() -> None:
    assert [len(s) for s in agent_sets(list(range(2500)), 1000)] == [1000, 1000, 500]
    with pytest.raises(ValueError):
        agent_sets([1], 0)


# ---------------------------------------------------------------------- agents
def test_agents_without_an_acd_id_are_skipped() -> None:
    agents, skipped = sync_agents([
        {"agentId": 12, "acdId": "100012", "employeeNumber": "E12"},
        {"agentId": 3, "acdId": 100003},  # a number: as text
        {"agentId": "7", "acdId": " 100007 "},
        {"agentId": 4, "acdId": None}, {"agentId": 5, "acdId": "  "}, {"agentId": 6},
        {"agentId": "x", "acdId": "1"}, {"agentId": True, "acdId": "1"}])
    assert agents == [SyncAgent(3, "100003"), SyncAgent(7, "100007"),
                      SyncAgent(12, "100012", "E12")]
    assert skipped == [4, 5, 6, "x", True]


# ---------------------------------------------------------------------- answers
def test_activities_keep_the_schedule_fields_and_invalid_ones_are_dropped() -> None:
    acts, invalid = valid_activities([
        {"activityType": "IN_SERVICE", "activityTypeLabel": "In Service",
         "activityDetailName": "Billing", "startTime": 10, "endTime": 20, "color": "#fff",
         "serviceQueueId": 218, "multiSkillGroupId": None, "id": 99, "paid": True},
        {"activityType": "", "startTime": 1, "endTime": 2},
        {"activityType": "BREAK", "startTime": 5, "endTime": 5},
        {"activityType": "BREAK", "startTime": "5", "endTime": 9},
        {"activityType": "BREAK", "startTime": True, "endTime": 9},
        "not an object"])
    assert acts == [{"activityType": "IN_SERVICE", "activityTypeLabel": "In Service",
                     "activityDetailName": "Billing", "startTime": 10, "endTime": 20,
                     "color": "#fff", "serviceQueueId": 218, "paid": True}]
    assert invalid == 5
    assert valid_activities(None) == ([], 0)


def test_entries_by_agent() -> None:
    entries = entries_by_agent([
        {"agentId": 1, "employeeID": "E1", "agentTimeZone": "America/Chicago",
         "activities": [{"activityType": "LUNCH", "startTime": 1, "endTime": 2}]},
        {"agentId": 1, "employeeID": "", "activities": [
            {"activityType": "BREAK", "startTime": 3, "endTime": 4},
            {"activityType": "BREAK", "startTime": 9, "endTime": 4}]},
        {"agentId": "2", "employeeID": None, "activities": []},
        {"agentId": None}])
    assert entries[1] == AgentEntry(
        ({"activityType": "LUNCH", "startTime": 1, "endTime": 2},
         {"activityType": "BREAK", "startTime": 3, "endTime": 4}),
        "E1", "America/Chicago", 1)
    assert entries[2] == AgentEntry((), None, None, 0)
    assert set(entries) == {1, 2}


# ---------------------------------------------------------------------- messages
AGENT = SyncAgent(7042, "100042", "N7042")


def act(kind: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    return {"activityType": kind, "startTime": start, "endTime": end, **extra}


def test_one_message_per_local_day_with_cross_midnight_activities_clipped() -> None:
    # Chicago, 2026-10-31 .. 2026-11-02: an overnight shift 22:00 -> 06:00 local on the
    # night into the 25-hour day, and a break listed after it
    w = plan_windows(CHI, o("2026-10-31"), o("2026-11-02"), 9)[0]
    d31, d01 = CHI.bounds(o("2026-10-31")), CHI.bounds(o("2026-11-01"))
    night = act("IN_SERVICE", d31[0] + 22 * HOUR, d01[0] + 7 * HOUR, serviceQueueId=218,
                activityDetailName="Billing")  # 06:00 CST is 7 h after midnight CDT
    brk = act("BREAK", d31[1] - 15 * 60_000, d31[1] + 15 * 60_000)
    entry = AgentEntry((night, brk), "E7042", "America/Chicago")
    msgs = day_messages("northwind", "1", AGENT, entry, CHI, w)
    assert [m.day for m in msgs] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    m31, m01, m02 = (m.message for m in msgs)
    assert m31 == {
        "tenantId": "northwind", "agentId": 7042, "employeeId": "E7042", "acdServerId": "1",
        "acdAgentId": "100042", "agentTimeZone": "America/Chicago",
        "fromTimestamp": d31[0], "toTimestamp": d31[1],
        "activities": [
            {**night, "startTime": d31[0] + 22 * HOUR, "endTime": d31[1]},
            {**brk, "endTime": d31[1]}]}
    assert m01["activities"] == [
        {**night, "startTime": d01[0]}, {**brk, "startTime": d01[0]}]
    assert (m01["fromTimestamp"], m01["toTimestamp"]) == d01
    assert d01[1] - d01[0] == 25 * HOUR
    assert m02["activities"] == [] and msgs[2].empty
    assert [m.key for m in msgs] == ["northwind:7042:2026-10-31", "northwind:7042:2026-11-01",
                                     "northwind:7042:2026-11-02"]
    assert {m.record_key for m in msgs} == {"northwind:7042"}
    for m in msgs:  # the engine accepts every one
        parsed = parse_schedule(m.message)
        assert (parsed.from_ts, parsed.to_ts) == (m.message["fromTimestamp"],
                                                  m.message["toTimestamp"])


def test_an_agent_the_wfm_returned_nothing_for_has_empty_days() -> None:
    w = plan_windows(CHI, o("2026-03-07"), o("2026-03-09"), 9)[0]
    msgs = day_messages("t", "2", AGENT, None, CHI, w)
    assert [m.message["activities"] for m in msgs] == [[], [], []]
    assert msgs[1].message["toTimestamp"] - msgs[1].message["fromTimestamp"] == 23 * HOUR
    assert msgs[0].message["employeeId"] == "N7042"  # the Agent API's employee number
    assert "agentTimeZone" not in msgs[0].message
    assert msgs[0].message["acdServerId"] == "2"


@given(spans=st.lists(st.tuples(st.integers(-2 * DAY_MS, 6 * DAY_MS),
                                st.integers(1, 3 * DAY_MS)), max_size=8))
def test_clipped_parts_add_up_to_the_overlap_with_the_window(
        spans: list[tuple[int, int]]) -> None:
    w = plan_windows(CHI, o("2026-10-30"), o("2026-11-02"), 9)[0]
    acts = tuple(act("IN_SERVICE", w.start_ms + s, w.start_ms + s + d) for s, d in spans)
    msgs = day_messages("t", "1", AGENT, AgentEntry(acts), CHI, w)
    for m in msgs:
        lo, hi = m.message["fromTimestamp"], m.message["toTimestamp"]
        assert all(lo <= a["startTime"] < a["endTime"] <= hi for a in m.message["activities"])
    total = sum(a["endTime"] - a["startTime"] for m in msgs for a in m.message["activities"])
    assert total == sum(max(0, min(a["endTime"], w.end_ms) - max(a["startTime"], w.start_ms))
                        for a in acts)


# ---------------------------------------------------------------------- changes
def _day(activities: list[dict[str, Any]], day: str = "2026-03-10", **entry: Any
         ) -> Any:
    w = plan_windows(CHI, o(day), o(day), 9)[0]
    return day_messages("t", "1", entry.pop("agent", AGENT),
                        AgentEntry(tuple(activities), **entry), CHI, w)[0]


def test_change_detection() -> None:
    start = CHI.bounds(o("2026-03-10"))[0]
    shift = [act("IN_SERVICE", start + 8 * HOUR, start + 16 * HOUR),
             act("LUNCH", start + 12 * HOUR, start + 13 * HOUR)]
    first = _day(shift)
    assert should_publish(first, None)  # never published
    assert not should_publish(_day(shift), first.digest)  # unchanged
    moved = _day([shift[0], act("LUNCH", start + 12 * HOUR, start + 12 * HOUR + 1800_000)])
    assert should_publish(moved, first.digest)  # a retroactive edit
    exception = _day([*shift, act("EXCEPTION", start + 14 * HOUR, start + 15 * HOUR,
                                  activityDetailName="Doctor")])
    assert should_publish(exception, first.digest)  # an approved exception
    deleted = _day([])
    assert deleted.empty and should_publish(deleted, first.digest)  # clears the day
    assert not should_publish(deleted, deleted.digest)  # cleared once
    assert not should_publish(_day([]), None)  # never published, nothing to clear
    # order matters (the later-listed activity wins where they overlap)
    assert _day(shift[::-1]).digest != first.digest
    # the digest is the engine's content: not the employee id or the display time zone
    assert _day(shift, employee_id="X", time_zone="Europe/Paris").digest == first.digest
    assert _day(shift, agent=SyncAgent(7042, "200042")).digest != first.digest
    # the message's digest is of its content: key order and fields outside
    # DIGEST_FIELDS do not matter, every field inside it does
    reordered = dict(reversed(list(first.message.items())))
    assert digest({**reordered, "displayOnly": "x"}) == digest(first.message)
    for field in DIGEST_FIELDS:
        assert digest({**first.message, field: "changed"}) != digest(first.message), field
    published = {first.key: first.digest}
    assert changed([_day(shift), _day([], "2026-03-11")], published) == []
    assert changed([moved], published) == [moved]


def test_stale_keys_are_this_tenants_days_outside_the_range() -> None:
    keys = ["t:1:2026-03-01", "t:1:2026-03-02", "t:2:2026-03-31", "t:2:2026-04-01",
            "other:1:2026-01-01", "t:x:y:2026-01-01", "garbage"]
    assert stale_keys(keys, "t", o("2026-03-02"), o("2026-03-31")) == [
        "t:1:2026-03-01", "t:2:2026-04-01"]
