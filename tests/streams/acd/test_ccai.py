"""The CCAI Platform source against a CCAI Platform over loopback (tests/support/fake_ccai.py)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rta.states import HOLD, LOGOUT, NOT_READY, READY, TALKING, UNKNOWN, WORK_READY
from streams.local.acd_sim import ccai_day, to_ccai_logs
from streams.local.fake_ccai import DEFAULT_STATUSES, FakeCcai, format_time
from tests.support.acd import CCAI_TOKEN, T0, Driver, ccai_config, effective
from tests.support.acd import ccai_record as record


@pytest.fixture
def ccai() -> Iterator[FakeCcai]:
    fake = FakeCcai(rate_per_second=1000.0).start()
    yield fake
    fake.stop()


def test_default_mapping_of_every_seed_status(ccai: FakeCcai) -> None:
    ccai.add_logs(record(118, T0 + i * 1000, s["wfm_id"]) for i, s in
                  enumerate(DEFAULT_STATUSES))
    got = {e["timestamp"]: (e["gisStateIdentifier"], e["reasonCode"])
           for e in Driver(ccai_config(ccai.url)).run()}
    want = [(READY, None), (NOT_READY, 12), (NOT_READY, 29), (NOT_READY, 30), (NOT_READY, 31),
            (NOT_READY, 32), (WORK_READY, None), (TALKING, None), (TALKING, None),
            (LOGOUT, None), (NOT_READY, 45)]
    assert [got[T0 + i * 1000] for i in range(len(DEFAULT_STATUSES))] == want


def test_overrides_by_wfm_id_and_by_name_and_unknown_statuses(
        ccai: FakeCcai, caplog: pytest.LogCaptureFixture) -> None:
    ccai.add_logs([record(118, T0, 45), record(118, T0 + 1000, 30),
                   {**record(118, T0 + 2000, 11), "status": {"id": 77, "name": "Coaching",
                                                             "color": "x", "wfm_id": 77}},
                   {**record(119, T0 + 3000, 11), "status": {"id": 77, "name": "Coaching",
                                                             "color": "x", "wfm_id": 77}}])
    cfg = ccai_config(ccai.url, mapping={"45": {"state": "NOT_READY", "reason": "LUNCH"},
                                         "special task": "BUSY_OTHER"})
    caplog.set_level(logging.WARNING)
    d = Driver(cfg)
    events = d.run()
    got = [(e["acdAgentId"], e["gisStateIdentifier"], e["reasonCode"]) for e in events]
    assert got == [("118", NOT_READY, "LUNCH"), ("118", 7, None), ("118", UNKNOWN, None),
                   ("119", UNKNOWN, None)]
    assert d.source.mapper.unmapped_total == 2  # type: ignore[attr-defined]
    # logged once per status, never dropped
    assert sum("'Coaching'" in r.getMessage() for r in caplog.records) == 1
    # the connector read user_statuses again when it met a status it did not know
    assert ccai.requests["/manager/api/v1/user_statuses"] == 2


def test_a_status_created_later_is_mapped_after_a_fresh_read(ccai: FakeCcai) -> None:
    ccai.set_statuses([*DEFAULT_STATUSES, {"id": 9, "name": "Coaching", "color": "x",
                                           "wfm_id": 77}])
    ccai.add_logs([record(118, T0, 11)])
    d = Driver(ccai_config(ccai.url))
    d.run()
    ccai.add_logs([{**record(118, T0 + 1000, 11),
                    "status": {"id": 9, "name": "Coaching", "color": "x", "wfm_id": 77}}])
    events = Driver(ccai_config(ccai.url), state=d.state).run()
    assert [(e["gisStateIdentifier"], e["reasonCode"]) for e in events] == [(NOT_READY, 77)]


def test_paging_and_a_restart_from_the_checkpoint(ccai: FakeCcai) -> None:
    ccai.add_logs(record(100 + i % 7, T0 + i * 1000, (11, 34, 33, 12)[i % 4])
                  for i in range(250))
    d = Driver(ccai_config(ccai.url, ccai__per_page=100))
    first = d.run()
    assert len(first) == 250
    assert len({e["eventId"] for e in first}) == 250
    assert len([q for q in ccai.queries if q.get("page")]) >= 3
    assert next(s for s in d.steps if s.events).state is not None
    # a restart from the checkpoint: nothing again; then only what is new
    again = Driver(ccai_config(ccai.url, ccai__per_page=100), state=d.state)
    assert again.run() == []
    ccai.add_logs([record(100, T0 + 251_000, 11)])
    more = Driver(ccai_config(ccai.url), state=again.state).run()
    assert [e["timestamp"] for e in more] == [T0 + 251_000]


def test_an_open_status_gaining_its_end_is_not_published_again(ccai: FakeCcai) -> None:
    [rid] = ccai.add_logs([record(118, T0, 29)])
    d = Driver(ccai_config(ccai.url))
    assert len(d.run()) == 1
    ccai.update_log(rid, ended_at=format_time(T0 + 60_000), duration=60)
    ccai.add_logs([record(118, T0 + 60_000, 11)])
    later = Driver(ccai_config(ccai.url), state=d.state).run()
    assert [(e["timestamp"], e["gisStateIdentifier"]) for e in later] == [(T0 + 60_000, READY)]


def test_records_written_late_inside_the_reread_window_are_read(ccai: FakeCcai) -> None:
    ccai.add_logs([record(118, T0 + 100_000, 11)])
    d = Driver(ccai_config(ccai.url, connector__reread_seconds=300))
    d.run()
    ccai.add_logs([record(119, T0 + 40_000, 29)])  # older than the cursor, written later
    later = Driver(ccai_config(ccai.url, connector__reread_seconds=300), state=d.state).run()
    assert [(e["acdAgentId"], e["timestamp"]) for e in later] == [("119", T0 + 40_000)]


def test_malformed_records_are_dead_lettered_once_with_the_reason(ccai: FakeCcai) -> None:
    ids = ccai.add_logs([record(118, T0, 11), record(118, T0 + 1000, 29),
                         record(118, T0 + 2000, 34)])
    ccai.faults.malformed.add(ids[1])
    d = Driver(ccai_config(ccai.url))
    events = d.run(polls=2)
    assert [e["gisStateIdentifier"] for e in events] == [READY, TALKING]
    assert len(d.dead) == 1
    assert "started_at" in d.dead[0][1] and "CCAI" in d.dead[0][1]


def test_5xx_bursts_and_slow_answers_are_retried(ccai: FakeCcai) -> None:
    ccai.add_logs([record(118, T0, 11), record(118, T0 + 1000, 34)])
    ccai.faults.fail_next = [503, 502, 500]
    ccai.faults.delay_seconds = 0.3
    d = Driver(ccai_config(ccai.url, connector__timeout_seconds=5))
    assert len(d.run()) == 2
    http = d.source.http  # type: ignore[attr-defined]
    assert http.statuses[503] == 1 and http.statuses[500] == 1 and http.retries == 3


def test_one_request_a_second_is_never_throttled() -> None:
    fake = FakeCcai(rate_per_second=1.0).start()
    try:
        fake.add_logs(record(118, T0 + i * 1000, 11) for i in range(5))
        d = Driver(ccai_config(fake.url, connector__rate_limit_per_second=1.0,
                               ccai__per_page=2))
        assert len(d.run()) == 5
        assert fake.throttled == 0
        times = fake.accepted_times
        assert len(times) >= 4  # statuses + 3 pages
        assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    finally:
        fake.stop()


def test_a_faster_caller_gets_429_and_honours_retry_after() -> None:
    fake = FakeCcai(rate_per_second=1.0).start()
    try:
        fake.add_logs(record(118, T0 + i * 1000, 11) for i in range(4))
        d = Driver(ccai_config(fake.url, connector__rate_limit_per_second=20.0,
                               ccai__per_page=2))
        assert len(d.run()) == 4
        assert fake.throttled >= 1
        http = d.source.http  # type: ignore[attr-defined]
        assert http.statuses[429] == fake.throttled
        times = fake.accepted_times
        assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    finally:
        fake.stop()


def test_the_wrong_token_is_an_error_not_a_retry_loop(ccai: FakeCcai) -> None:
    from streams.acd.http import Unauthorized

    cfg = ccai_config(ccai.url)
    cfg.secrets["token"] = type(cfg.secrets["token"])("wrong")
    with pytest.raises(Unauthorized):
        Driver(cfg).run()
    assert ccai.unauthorized == 1


def test_hold_and_corrections_from_current_status(ccai: FakeCcai) -> None:
    now = [T0 / 1000 + 600]
    ccai.add_logs([record(118, T0, 34), record(119, T0, 11)])
    cfg = ccai_config(ccai.url, ccai__reconcile=True, ccai__reconcile_after_seconds=0)
    ccai.set_current([
        {"id": 118, "status": "In-call", "status_id": -7, "status_updated_at":
         format_time(T0), "on_hold": True, "on_hold_duration": 30},
        {"id": 119, "status": "Break", "status_id": -2, "status_updated_at":
         format_time(T0 + 500_000), "on_hold": False, "on_hold_duration": 0}])
    d = Driver(cfg, clock=lambda: now[0])
    first = d.run()
    by = {(e["acdAgentId"], e["gisStateIdentifier"]): e for e in first}
    assert by[("118", HOLD)]["timestamp"] == T0 + 570_000  # now - on_hold_duration
    assert by[("119", NOT_READY)]["timestamp"] == T0 + 500_000  # status_updated_at
    assert by[("119", NOT_READY)]["reasonCode"] == 29
    # the hold ends: the live status again; 119 unchanged: nothing
    now[0] += 10
    ccai.set_current([
        {"id": 118, "status": "In-call", "status_id": -7, "status_updated_at":
         format_time(T0), "on_hold": False, "on_hold_duration": 0},
        {"id": 119, "status": "Break", "status_id": -2, "status_updated_at":
         format_time(T0 + 500_000), "on_hold": False, "on_hold_duration": 0}])
    d2 = Driver(cfg, clock=lambda: now[0], state=d.state)
    second = d2.run()
    assert [(e["acdAgentId"], e["gisStateIdentifier"], e["timestamp"]) for e in second] == [
        ("118", TALKING, T0 + 610_000)]
    # 119 leaves (logged out live): after reconcile_after_seconds, a LOGOUT
    now[0] += 10
    ccai.set_current([])
    third = Driver(cfg, clock=lambda: now[0], state=d2.state).run()
    assert {(e["acdAgentId"], e["gisStateIdentifier"]) for e in third} == {
        ("118", LOGOUT), ("119", LOGOUT)}


def test_a_mismatch_waits_reconcile_after_seconds(ccai: FakeCcai) -> None:
    ccai.add_logs([record(118, T0, 11)])
    ccai.set_current([{"id": 118, "status": "Break", "status_id": -2,
                       "status_updated_at": format_time(T0 + 1000), "on_hold": False,
                       "on_hold_duration": 0}])
    cfg = ccai_config(ccai.url, ccai__reconcile=True, ccai__reconcile_after_seconds=0.3)

    import asyncio

    async def go() -> tuple[list[Any], list[Any]]:
        d = Driver(cfg)
        first = await d.poll()  # the log's READY; the mismatch is seen, not acted on
        await asyncio.sleep(0.4)
        second = await d.poll()
        await d.source.close()
        return first, second

    first, second = asyncio.run(go())
    assert [e["gisStateIdentifier"] for e in first] == [READY]
    assert [(e["gisStateIdentifier"], e["reasonCode"]) for e in second] == [(NOT_READY, 29)]


def test_identities_of_other_kinds_from_the_config(ccai: FakeCcai) -> None:
    ccai.add_logs([record(118, T0, 11), record(119, T0, 11)])
    cfg = ccai_config(ccai.url, identities={"118": {"kind": "Phone", "value": "46-78"}})
    got = sorted(e["acdAgentId"] for e in Driver(cfg).run())
    assert got == ["119", "phone:4678"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_simulated_centre_comes_back_as_it_was(ccai: FakeCcai, seed: int) -> None:
    day = ccai_day(seed, agents=12)
    ccai.add_logs(to_ccai_logs(day.canonical))
    d = Driver(ccai_config(ccai.url, ccai__per_page=100,
                           connector__start_from=day.canonical[0]["timestamp"] - 1000))
    d.run(polls=2)
    assert effective(d.events) == effective(day.canonical)
    assert not d.dead


def test_the_token_is_not_in_debug_logs(ccai: FakeCcai, caplog: pytest.LogCaptureFixture
                                        ) -> None:
    ccai.add_logs([record(118, T0, 11)])
    ccai.faults.fail_next = [503]
    caplog.set_level(logging.DEBUG)
    cfg = ccai_config(ccai.url)
    Driver(cfg).run()
    text = "\n".join(r.getMessage() + str(r.args) for r in caplog.records) + repr(cfg)
    assert "HTTP 503" in text  # the retry was logged (at DEBUG everything is)
    assert CCAI_TOKEN not in text
    import base64

    assert base64.b64encode(f"acme:{CCAI_TOKEN}".encode()).decode() not in text


def test_a_backlog_larger_than_a_poll_inside_the_reread_window_moves_forward(
        ccai: FakeCcai) -> None:
    """300 records in 60 s, 5 pages of 10 a poll, a 300 s re-read: each poll goes on
    where the last stopped (it read all of the window again before, and stalled)."""
    ccai.add_logs(record(100 + i % 9, T0 + i * 200, (11, 34)[i % 2]) for i in range(300))
    d = Driver(ccai_config(ccai.url, ccai__per_page=10, connector__max_pages_per_poll=5,
                           connector__reread_seconds=300))
    events = d.run(polls=8)
    assert len(events) == 300 == len({e["eventId"] for e in events})


def test_more_records_at_one_instant_than_a_page_holds(ccai: FakeCcai) -> None:
    ccai.add_logs([record(100 + i, T0, 11) for i in range(25)]
                  + [record(100, T0 + 1000, 34)])
    d = Driver(ccai_config(ccai.url, ccai__per_page=10))
    events = d.run()
    assert len(events) == 26 == len({e["eventId"] for e in events})


def test_answers_slower_than_the_timeout_fail_the_poll_after_the_retries(
        ccai: FakeCcai) -> None:
    from streams.acd.http import Transient

    ccai.add_logs([record(118, T0, 11)])
    ccai.faults.delay_seconds = 0.5
    d = Driver(ccai_config(ccai.url, connector__timeout_seconds=0.1))
    with pytest.raises(Transient, match="after 6 tries"):
        d.run()
    http = d.source.http  # type: ignore[attr-defined]
    assert http.statuses[0] == 6 and not http.up


def test_a_platform_capping_pages_below_per_page_is_read_to_the_end() -> None:
    fake = FakeCcai(rate_per_second=1000, max_per=100).start()
    try:
        fake.add_logs(record(100 + i % 9, T0 + i * 100, (11, 34)[i % 2]) for i in range(500))
        d = Driver(ccai_config(fake.url, ccai__per_page=200))
        events = d.run(polls=2)
        assert len(events) == 500 == len({e["eventId"] for e in events})
    finally:
        fake.stop()


def test_an_idle_poll_is_one_request_once_pages_are_known_to_fill(ccai: FakeCcai) -> None:
    ccai.add_logs(record(100, T0 + i * 100, 11) for i in range(30))
    d = Driver(ccai_config(ccai.url, ccai__per_page=10))

    import asyncio

    async def go() -> int:
        await d.poll()
        before = ccai.requests["/manager/api/v1/agent_activity_logs"]
        await d.poll()
        await d.source.close()
        return ccai.requests["/manager/api/v1/agent_activity_logs"] - before

    # the re-read window (30 records) is 3 full pages, then a short one
    assert asyncio.run(go()) <= 5
    assert len(d.events) == 30


def test_no_reconciling_while_the_log_is_caught_up(ccai: FakeCcai) -> None:
    """A backlog read over several polls: the live view (the day's end) is not acted
    on until the log is read to its end (a correction at 'now' put the agent's
    older events behind the lateness horizon)."""
    ccai.add_logs(record(118, T0 + i * 1000, (11, 34)[i % 2]) for i in range(40))
    ccai.add_logs([record(119, T0, 11), record(119, T0 + 50_000, 36, "logout")])
    ccai.set_current([{"id": 118, "status": "In-call", "status_id": -7,
                       "status_updated_at": format_time(T0 + 39_000), "on_hold": False,
                       "on_hold_duration": 0}])  # 119 logged out at the end
    cfg = ccai_config(ccai.url, ccai__per_page=10, connector__max_pages_per_poll=2,
                      ccai__reconcile=True, ccai__reconcile_after_seconds=0)
    d = Driver(cfg, clock=lambda: T0 / 1000 + 86400 * 30)
    events = d.run(polls=4)
    assert len(events) == 42
    assert all(e["eventId"].split(":")[2] == "log" for e in events)


def test_the_token_is_not_in_a_refusal_logged_or_raised(ccai: FakeCcai,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    from streams.acd.connector import Connector
    from streams.settings import WorkerSettings

    caplog.set_level(logging.DEBUG)
    ccai.faults.fail_next = [400]
    cfg = ccai_config(ccai.url)
    conn = Connector(WorkerSettings(broker_url="kafka://127.0.0.1:1"), cfg)
    conn.source.restore(None)

    import asyncio

    async def go() -> bool:
        try:
            return await conn.poll_once()
        finally:
            await conn.source.close()

    assert asyncio.run(go()) is False  # the poll failed, logged, to be tried again
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 400" in text and CCAI_TOKEN not in text
