"""Adherence days at the edges of time: the last day, 9999-12-31, lasts to the end of
timestamps (year 10000 UTC) in every zone, and a schedule reaching it applies (the
contract fuzzer sent one; the calendar raised for the day after it)."""

from __future__ import annotations

import pytest

from rta.calendar import DayCalendar
from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import MAX_TIMESTAMP, parse_schedule
from rta.outputs import Rejected

ZONES = ["UTC", "America/Chicago", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Niue"]


@pytest.mark.parametrize("zone", ZONES)
def test_the_last_day_holds_the_last_instant_and_ends_with_time(zone: str) -> None:
    cal = DayCalendar(zone)
    ordinal, start, end = cal.day(MAX_TIMESTAMP - 1)
    assert cal.iso(ordinal) == "9999-12-31"
    assert start < MAX_TIMESTAMP - 1 < end == MAX_TIMESTAMP
    day_before = cal.day(start - 1)
    assert cal.iso(day_before[0]) == "9999-12-30" and day_before[2] == start
    assert cal.day(0)[1] <= 0 < cal.day(0)[2]


@pytest.mark.parametrize("zone", ["America/Chicago", "Europe/Berlin"])
def test_a_schedule_reaching_the_end_of_time_applies(zone: str) -> None:
    e = Engine(TenantsConfig.from_mapping({"t": {"time_zone": zone}}))
    last = MAX_TIMESTAMP - 1
    msg = parse_schedule({"tenantId": "t", "agentId": 7, "acdAgentId": "a",
                          "fromTimestamp": last - 3 * 86_400_000, "toTimestamp": last,
                          "activities": [{"activityType": "in_service",
                                          "startTime": last - 86_400_000,
                                          "endTime": last}]})
    outs = e.apply_schedule(msg)
    assert not [o for o in outs if isinstance(o, Rejected)]
