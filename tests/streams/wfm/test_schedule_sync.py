"""`rta schedules sync` against a fake WFM (tests/support/fake_wfm.py) and a real broker.

Most tests drive ``ScheduleSync`` in process with a fixed clock; one runs the
command itself as users do (``rta schedules sync --once``), twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from rta.calendar import DayCalendar
from rta.models import parse_schedule
from streams.cli.main import main as rta_main
from streams.kafka import read_topic
from streams.settings import WorkerSettings
from streams.wfm.config import WfmConfig
from streams.wfm.schedule_sync import ScheduleSync
from streams.wfm.schedules import plan
from tests.support.brokers import TestBroker
from tests.support.fake_wfm import FakeWfm

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

PASSWORD = "wfm-secret-pw-4711"
TENANT = "northwind"
ZONE = "America/Chicago"
CHI = DayCalendar(ZONE)
HOUR = 3_600_000
DAY_MS = 86_400_000
SESSION_ID = re.compile(r"\b[0-9a-f]{32}\b")  # FakeWfm session ids: token_hex(16)


def local_ms(day: int, hour: float) -> int:
    """``hour`` o'clock local time (Chicago) on day ``day`` (ordinal)."""
    d = date.fromordinal(day)
    h, m = int(hour), round((hour % 1) * 60)
    return int(datetime(d.year, d.month, d.day, h, m, tzinfo=ZoneInfo(ZONE)).timestamp()
               * 1000)


def at(iso: str, hour: float) -> float:
    """Epoch seconds of ``hour`` o'clock in Chicago on ``iso`` (a clock for the sync)."""
    return local_ms(date.fromisoformat(iso).toordinal(), hour) / 1000


def shift(day: int) -> list[dict[str, Any]]:
    """A weekday's shift (weekends off): in service, a break and lunch listed after it."""
    if date.fromordinal(day).weekday() >= 5:
        return []
    return [
        {"activityType": "IN_SERVICE", "activityTypeLabel": "In Service",
         "activityDetailName": "Billing", "startTime": local_ms(day, 8),
         "endTime": local_ms(day, 16.5), "color": "#7399BD", "serviceQueueId": 218},
        {"activityType": "BREAK", "activityTypeLabel": "Break", "activityDetailName": "Break",
         "startTime": local_ms(day, 10), "endTime": local_ms(day, 10.25), "color": "#A3AD00"},
        {"activityType": "LUNCH", "activityTypeLabel": "Lunch", "activityDetailName": "Lunch",
         "startTime": local_ms(day, 12), "endTime": local_ms(day, 12.5), "color": "#A3AD00"},
    ]


def night(day: int) -> list[dict[str, Any]]:
    """An overnight shift: 22:00 on ``day`` to 06:00 the next day."""
    return [{"activityType": "IN_SERVICE", "startTime": local_ms(day, 22),
             "endTime": local_ms(day + 1, 6), "serviceQueueId": 7}]


def centre(fake: FakeWfm, n: int, around: int, nights: bool = False) -> None:
    """``n`` agents (1000...) with shifts 30 days either side of ``around``; plus an
    agent without an ACD id and an inactive one (neither is synced)."""
    fake.agents = [{"agentId": 1000 + i, "acdId": str(100000 + i), "active": True,
                    "employeeNumber": f"N{1000 + i}", "firstName": "A", "lastName": str(i)}
                   for i in range(n)]
    fake.agents += [{"agentId": 9001, "acdId": None, "active": True},
                    {"agentId": 9002, "acdId": "199002", "active": False}]
    for a in [*range(1000, 1000 + n), 9001, 9002]:
        fake.schedules[a] = [x for d in range(around - 30, around + 31)
                             for x in (night(d) if nights and a % 2 else shift(d))]


def expected_days(fake: FakeWfm, agents: list[int], first: int, last: int) -> set[str]:
    """Agent-days of ``first..last`` with any activity (what a first pass publishes)."""
    out = set()
    for a in agents:
        for d in range(first, last + 1):
            lo, hi = CHI.bounds(d)
            if any(x["startTime"] < hi and x["endTime"] > lo for x in fake.schedules[a]):
                out.add(f"{TENANT}:{a}:{CHI.iso(d)}")
    return out


@pytest.fixture
def wfm() -> Iterator[FakeWfm]:
    fake = FakeWfm(users={"rta-api": PASSWORD}).start()
    yield fake
    fake.stop()


def config(fake: FakeWfm, **sync: Any) -> WfmConfig:
    return WfmConfig.from_mapping(
        {"wfm": {"base_url": fake.url, "tenant": TENANT, "user_id": "rta-api"},
         "sync": {"interval_seconds": 0.2, **sync}}, env={"RTA_WFM_PASSWORD": PASSWORD})


def new_sync(broker: TestBroker, fake: FakeWfm, now: float, **sync: Any) -> ScheduleSync:
    return ScheduleSync(WorkerSettings(broker_url=broker.url), config(fake, **sync), ZONE,
                        clock=lambda: now)


async def schedule_records(broker: TestBroker) -> list[tuple[str, dict[str, Any]]]:
    rows = await read_topic(broker.settings(), broker.topic("rta.schedule"), 0.5)
    return [(k.decode() if k else "", orjson.loads(v)) for k, v in rows if v is not None]


def day_key(msg: dict[str, Any]) -> str:
    return f"{msg['tenantId']}:{msg['agentId']}:{CHI.iso(CHI.ordinal(msg['fromTimestamp']))}"


async def one_pass(sync: ScheduleSync, broker: TestBroker
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A pass, its summary and the messages it published (the topic's records after
    the pass less those before it: records of several partitions come in no set order)."""
    before = Counter(orjson.dumps(v) for _, v in await schedule_records(broker))
    summary = await sync.run_pass()
    after = Counter(orjson.dumps(v) for _, v in await schedule_records(broker))
    return summary, [orjson.loads(v) for v in (after - before).elements()]


# ---------------------------------------------------------------------- tests
async def test_first_pass_publishes_every_scheduled_day_and_an_unchanged_one_nothing(
        broker: TestBroker, wfm: FakeWfm, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    now = at("2026-03-10", 10)  # the range holds the spring-forward day (2026-03-08)
    today = CHI.ordinal(int(now * 1000))
    centre(wfm, 5, today)
    sync = new_sync(broker, wfm, now)
    try:
        summary, msgs = await one_pass(sync, broker)
        want = expected_days(wfm, list(range(1000, 1005)), today - 14, today + 14)
        assert len(want) == 5 * 21  # weekdays only: weekends are empty, never sent
        assert summary["ok"] and summary["failures"] == 0
        assert (summary["agents"], summary["noAcdId"], summary["published"],
                summary["cleared"]) == (5, 1, len(want), 0)
        assert summary["unchanged"] == 5 * 29 - len(want)
        assert (summary["from"], summary["to"]) == ("2026-02-24", "2026-03-24")
        assert sorted(day_key(m) for m in msgs) == sorted(want)  # each once
        records = await schedule_records(broker)
        assert all(k == f"{TENANT}:{v['agentId']}" for k, v in records)
        # one agent-day in full: the canonical message, accepted by the engine
        d = CHI.ordinal(int(now * 1000))
        (m,) = [m for m in msgs if day_key(m) == f"{TENANT}:1003:{CHI.iso(d)}"]
        assert m == {"tenantId": TENANT, "agentId": 1003, "employeeId": "E1003",
                     "acdServerId": "1", "acdAgentId": "100003", "agentTimeZone": ZONE,
                     "fromTimestamp": CHI.bounds(d)[0], "toTimestamp": CHI.bounds(d)[1],
                     "activities": shift(d)}
        for m in msgs:
            parse_schedule(m)
        # the spring-forward day is a Sunday (no shift); its Monday is 24 h
        (mon,) = [m for m in msgs if day_key(m) == f"{TENANT}:1000:2026-03-09"]
        assert mon["toTimestamp"] - mon["fromTimestamp"] == DAY_MS

        summary, msgs = await one_pass(sync, broker)
        assert msgs == []
        assert (summary["ok"], summary["published"], summary["unchanged"]) == (
            True, 0, 5 * 29)
        assert sync.counters == {"passes": 2, "calls": 8, "published": len(want),
                                 "unchanged": 5 * 29 * 2 - len(want), "failures": 0}
    finally:
        await sync.close()
    assert PASSWORD not in caplog.text
    assert "9001" in caplog.text  # the agent without an ACD id is named (once)
    assert caplog.text.count("without an ACD id") == 1


async def test_edits_deleted_shift_and_approved_exception_publish_exactly_those_days(
        broker: TestBroker, wfm: FakeWfm) -> None:
    now = at("2026-03-13", 10)  # a Friday: 10 days back and 3 ahead are weekdays
    today = CHI.ordinal(int(now * 1000))
    centre(wfm, 4, today)
    sync = new_sync(broker, wfm, now)
    try:
        await sync.run_pass()
        # a retroactive edit 10 days back: agent 1000's lunch moved by an hour
        back = today - 10
        assert shift(back)
        with wfm.lock:
            lunch = next(a for a in wfm.schedules[1000] if a["activityType"] == "LUNCH"
                         and a["startTime"] == local_ms(back, 12))
            lunch["startTime"], lunch["endTime"] = local_ms(back, 13), local_ms(back, 13.5)
        summary, msgs = await one_pass(sync, broker)
        assert [day_key(m) for m in msgs] == [f"{TENANT}:1000:{CHI.iso(back)}"]
        assert msgs[0]["activities"][2]["startTime"] == local_ms(back, 13)
        assert summary["published"] == 1 and summary["unchanged"] == 4 * 29 - 1

        # a deleted shift (3 days ahead): the day is sent with no activities
        ahead = today + 3
        assert shift(ahead)
        with wfm.lock:
            lo, hi = CHI.bounds(ahead)
            wfm.schedules[1001] = [a for a in wfm.schedules[1001]
                                   if not (a["startTime"] < hi and a["endTime"] > lo)]
        # an approved exception today: it appears in the WFM's schedule
        exc = {"activityType": "EXCEPTION", "activityTypeLabel": "Exception",
               "activityDetailName": "Doctor", "startTime": local_ms(today, 14),
               "endTime": local_ms(today, 15), "color": "#CC0000"}
        with wfm.lock:
            wfm.schedules[1002].append(exc)
        summary, msgs = await one_pass(sync, broker)
        by_key = {day_key(m): m for m in msgs}
        assert sorted(by_key) == sorted([f"{TENANT}:1001:{CHI.iso(ahead)}",
                                         f"{TENANT}:1002:{CHI.iso(today)}"])
        cleared = by_key[f"{TENANT}:1001:{CHI.iso(ahead)}"]
        assert cleared["activities"] == []
        assert (cleared["fromTimestamp"], cleared["toTimestamp"]) == CHI.bounds(ahead)
        assert by_key[f"{TENANT}:1002:{CHI.iso(today)}"]["activities"] == [*shift(today), exc]
        assert (summary["published"], summary["cleared"]) == (2, 1)

        # the cleared day stays cleared: nothing more to send
        summary, msgs = await one_pass(sync, broker)
        assert msgs == [] and summary["published"] == 0

        # an agent missing from the WFM's answers (out of the user's views, or a
        # partial answer) is left alone: none of its days is cleared
        with wfm.lock:
            del wfm.schedules[1003]
        summary, msgs = await one_pass(sync, broker)
        assert msgs == [] and summary["cleared"] == 0
        assert summary["notAnswered"] == summary["windows"]  # once per call
    finally:
        await sync.close()


async def test_agent_sets_and_windows_are_paginated(broker: TestBroker) -> None:
    fake = FakeWfm(users={"rta-api": PASSWORD}, max_agents_per_call=3,
                   max_days_per_call=4).start()
    try:
        now = at("2026-03-10", 10)
        today = CHI.ordinal(int(now * 1000))
        centre(fake, 7, today)
        sync = new_sync(broker, fake, now, agents_per_call=3, days_per_call=4, days_back=6,
                        days_ahead=6)
        try:
            summary = await sync.run_pass()
        finally:
            await sync.close()
        assert summary["ok"] and (summary["windows"], summary["calls"]) == (4, 12)
        calls = fake.timespan_calls
        assert len(calls) == 12
        first, last = today - 6, today + 6
        by_set: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for ids, start, end in calls:
            assert 1 <= len(ids) <= 3 and end - start <= 4 * DAY_MS
            by_set.setdefault(tuple(ids), []).append((start, end))
        assert sorted(by_set) == [(1000, 1001, 1002), (1003, 1004, 1005), (1006,)]
        for spans in by_set.values():  # windows tile the range exactly, at local midnights
            spans.sort()
            assert spans[0][0] == CHI.bounds(first)[0] and spans[-1][1] == CHI.bounds(last)[1]
            assert all(a[1] == b[0] for a, b in pairwise(spans))
            assert all(CHI.bounds(CHI.ordinal(s))[0] == s for s, _ in spans)
        want = expected_days(fake, list(range(1000, 1007)), first, last)
        msgs = [v for _, v in await schedule_records(broker)]
        assert sorted(day_key(m) for m in msgs) == sorted(want)
    finally:
        fake.stop()


async def test_a_dst_week(broker: TestBroker, wfm: FakeWfm) -> None:
    # fall back on Sunday 2026-11-01: a 25-hour day; nine days holding it would last
    # 9 x 24 h + 1 h, which the WFM refuses for several agents
    now = at("2026-11-01", 12)
    today = CHI.ordinal(int(now * 1000))
    centre(wfm, 4, today, nights=True)  # agents 1001 and 1003 work nights
    sync = new_sync(broker, wfm, now, days_back=7, days_ahead=7)
    try:
        summary = await sync.run_pass()
    finally:
        await sync.close()
    assert summary["ok"], summary
    spans = sorted({(s, e) for _, s, e in wfm.timespan_calls})
    assert [(CHI.iso(CHI.ordinal(s)), CHI.iso(CHI.ordinal(e - 1))) for s, e in spans] == [
        ("2026-10-25", "2026-11-01"), ("2026-11-02", "2026-11-08")]
    assert [e - s for s, e in spans] == [8 * DAY_MS + HOUR, 7 * DAY_MS]
    msgs = {day_key(m): m for _, m in await schedule_records(broker)}
    assert set(msgs) == expected_days(wfm, list(range(1000, 1004)), today - 7, today + 7)
    # the night into the 25-hour day: 22:00 CDT -> midnight, then midnight -> 06:00 CST
    sat, sun = msgs[f"{TENANT}:1001:2026-10-31"], msgs[f"{TENANT}:1001:2026-11-01"]
    assert sun["toTimestamp"] - sun["fromTimestamp"] == 25 * HOUR
    assert [(a["startTime"], a["endTime"]) for a in sat["activities"]] == [
        (sat["fromTimestamp"], local_ms(today - 1, 6)),
        (local_ms(today - 1, 22), sat["toTimestamp"])]
    assert sat["toTimestamp"] == sun["fromTimestamp"] == local_ms(today, 0)
    assert [(a["startTime"], a["endTime"]) for a in sun["activities"]] == [
        (sun["fromTimestamp"], local_ms(today, 6)), (local_ms(today, 22), sun["toTimestamp"])]
    assert local_ms(today, 6) - sun["fromTimestamp"] == 7 * HOUR


async def test_a_restarted_sync_does_not_republish(broker: TestBroker, wfm: FakeWfm) -> None:
    now = at("2026-03-10", 10)
    today = CHI.ordinal(int(now * 1000))
    centre(wfm, 30, today)
    first = new_sync(broker, wfm, now)
    try:
        s1 = await first.run_pass()
    finally:
        await first.close()
    seen = len(await schedule_records(broker))
    assert s1["published"] == seen == 30 * 21
    with wfm.lock:
        wfm.schedules[1029] = [a for a in wfm.schedules[1029]
                               if a["activityType"] != "BREAK" or a["startTime"] < local_ms(
                                   today, 0) or a["startTime"] > local_ms(today, 23)]
    second = new_sync(broker, wfm, now)  # a new process: knows only the digests topic
    try:
        s2, msgs = await one_pass(second, broker)
    finally:
        await second.close()
    assert len(second.published) == 30 * 21
    assert [day_key(m) for m in msgs] == [f"{TENANT}:1029:{CHI.iso(today)}"]
    assert s2["published"] == 1 and s2["unchanged"] == 30 * 29 - 1

    # days that left the range are forgotten (tombstones), the others kept
    later = new_sync(broker, wfm, now + 3 * 86400)
    try:
        s3 = await later.run_pass()
    finally:
        await later.close()
    assert s3["ok"] and s3["forgotten"] == 30 * 3  # Tue-Thu 2026-02-24..26 left the range
    digests: dict[str, bytes | None] = {}
    for k, v in await read_topic(WorkerSettings(broker_url=broker.url),
                                 broker.topic("rta-schedule-sync"), 0.5):
        digests[k.decode() if k else ""] = v
    assert sum(v is not None for v in digests.values()) == len(later.published)


async def test_wfm_failures_are_logged_without_credentials_and_the_next_pass_recovers(
        broker: TestBroker, wfm: FakeWfm, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    now = at("2026-03-10", 10)
    today = CHI.ordinal(int(now * 1000))
    centre(wfm, 3, today)
    sync = new_sync(broker, wfm, now)
    try:
        wfm.faults.fail_next = [503]  # the first Schedule for Timespan call
        s1 = await sync.run_pass()
        assert not s1["ok"] and s1["failures"] == 1 and s1["published"] == 0
        wfm.faults.fail_next = [400]  # a refused request: that call is skipped, not others
        s2 = await sync.run_pass()
        assert not s2["ok"] and s2["failures"] == 1 and s2["calls"] == 3
        s3 = await sync.run_pass()
        assert s3["ok"] and s1["published"] + s2["published"] + s3["published"] == len(
            expected_days(wfm, [1000, 1001, 1002], today - 14, today + 14))
        assert s3["forgotten"] == 0
        # the login refused (the password rotated at the WFM): a failed pass, no crash
        wfm.users["rta-api"] = "rotated"
        wfm.expire_sessions()
        s4 = await sync.run_pass()
        assert not s4["ok"] and s4["failures"] == 1
        assert sync.counters["failures"] == 3 and sync.counters["passes"] == 4
    finally:
        await sync.close()
    assert "refused the login" in caplog.text and "HTTP 503" in caplog.text
    assert PASSWORD not in caplog.text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("rta"))
    assert "refused the login" in ours and not SESSION_ID.search(ours)


async def test_passes_every_interval_until_stopped_and_a_failed_one_does_not_stop_it(
        broker: TestBroker, wfm: FakeWfm) -> None:
    now = at("2026-03-10", 10)
    centre(wfm, 2, CHI.ordinal(int(now * 1000)))
    sync = new_sync(broker, wfm, now)  # interval_seconds = 0.2
    stop = asyncio.Event()
    summaries: list[dict[str, Any]] = []

    def on_pass(summary: dict[str, Any]) -> None:
        summaries.append(summary)
        if len(summaries) == 1:
            wfm.faults.fail_next = [503]  # the second pass fails
        if len(summaries) == 4:
            stop.set()

    try:
        assert await asyncio.wait_for(sync.run(False, on_pass, stop), 30) == 0
    finally:
        await sync.close()
    assert [s["ok"] for s in summaries] == [True, False, True, True]
    assert [s["published"] for s in summaries] == [2 * 21, 0, 0, 0]
    assert sync.counters["passes"] == 4 and sync.counters["failures"] == 1


async def test_broker_down_fails_the_pass_without_crashing(wfm: FakeWfm) -> None:
    from streams.local.broker import free_port

    now = at("2026-03-10", 10)
    centre(wfm, 2, CHI.ordinal(int(now * 1000)))
    sync = ScheduleSync(WorkerSettings(broker_url=f"kafka://127.0.0.1:{free_port()}"),
                        config(wfm), ZONE, clock=lambda: now)
    try:
        s = await sync.run_pass()
    finally:
        await sync.close()
    assert not s["ok"] and s["failures"] == 1 and not sync.loaded


def test_the_command_once_twice(broker: TestBroker, wfm: FakeWfm, tmp_path: Path) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    today = CHI.ordinal(now_ms)
    centre(wfm, 6, today)
    cfg = tmp_path / "wfm.toml"
    cfg.write_text(f'[wfm]\nbase_url = "{wfm.url}"\ntenant = "{TENANT}"\n'
                   'user_id = "rta-api"\npassword_file = "secret"\n'
                   '[sync]\ndays_back = 3\ndays_ahead = 5\nagents_per_call = 4\n')
    (tmp_path / "secret").write_text(PASSWORD + "\n")
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(f'[tenants.{TENANT}]\ntime_zone = "{ZONE}"\n')
    cmd = [sys.executable, "-m", "streams.cli.main", "schedules", "sync", "--config", str(cfg),
           "--broker", broker.url, "--tenants", str(tenants), "--once"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTA_WFM_")}
    runs = [subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert PASSWORD not in r.stdout + r.stderr
        assert not SESSION_ID.search(r.stderr)
    s1, s2 = (orjson.loads(r.stdout.strip()) for r in runs)
    want = expected_days(wfm, list(range(1000, 1006)), today - 3, today + 5)
    windows = plan(CHI, now_ms, 3, 5, 9)
    assert s1["ok"] and s1["published"] == len(want) and s1["calls"] == len(windows) * 2
    assert s2["ok"] and s2["published"] == 0 and s2["unchanged"] == 6 * 9
    assert wfm.logins == 2 and wfm.logouts == 2  # a session per run, ended at exit


def test_the_command_runs_until_sigterm(broker: TestBroker, wfm: FakeWfm,
                                       tmp_path: Path) -> None:
    centre(wfm, 2, CHI.ordinal(int(datetime.now(UTC).timestamp() * 1000)))
    cfg = tmp_path / "wfm.toml"
    cfg.write_text(f'[wfm]\nbase_url = "{wfm.url}"\ntenant = "{TENANT}"\n'
                   '[sync]\ninterval_seconds = 0.5\ndays_back = 1\ndays_ahead = 1\n'
                   f'time_zone = "{ZONE}"\n')
    env = {**os.environ, "RTA_WFM_USER_ID": "rta-api", "RTA_WFM_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "schedules", "sync", "--config", str(cfg),
         "--broker", broker.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        assert proc.stdout is not None
        lines = [orjson.loads(proc.stdout.readline()) for _ in range(3)]  # three passes
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert [s["pass"] for s in lines] == [1, 2, 3] and all(s["ok"] for s in lines)
    assert lines[1]["published"] == lines[2]["published"] == 0
    assert PASSWORD not in out + err and "rta schedules sync: tenant northwind" in err
    assert wfm.logins == 1 and wfm.logouts == 1  # one session, kept across passes


def test_the_command_refuses_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "wfm.toml"
    cfg.write_text('[wfm]\nbase_url = "http://wfm"\ntenant = "t"\nuser_id = "u"\n'
                   f'password = "{PASSWORD}"\n')
    assert rta_main(["schedules", "sync", "--config", str(cfg), "--once"]) == 2
    err = capsys.readouterr().err
    assert "password" in err and PASSWORD not in err
    cfg.write_text('[wfm]\nbase_url = "http://wfm"\ntenant = "t"\nuser_id = "u"\n'
                   '[sync]\ndays_per_call = 10\n')
    monkeypatch.setenv("RTA_WFM_PASSWORD", "x")
    assert rta_main(["schedules", "sync", "--config", str(cfg), "--once"]) == 2
    assert "days_per_call" in capsys.readouterr().err
    cfg.write_text('[wfm]\nbase_url = "http://wfm"\ntenant = "t"\nuser_id = "u"\n'
                   '[sync]\ntime_zone = "Mars/Olympus"\n')
    assert rta_main(["schedules", "sync", "--config", str(cfg), "--once"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err
    assert rta_main(["schedules", "sync", "--config", str(tmp_path / "none.toml")]) == 2
    assert "not found" in capsys.readouterr().err
