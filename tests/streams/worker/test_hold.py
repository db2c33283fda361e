"""Events of an ACD identity the directory does not know yet are held, bounded by count
and by event-time span; the span bound applies only once the identity has been unknown
for ``RTA_HOLD_GRACE_SECONDS`` on the worker (the schedule that names it may still be
on its way: the state and schedule topics are read at their own pace)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.results import assert_adherence_becomes, expected, tenants_file
from tests.support.workers import produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

H = 3_600_000
MARCH = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1000)
OCTOBER = int(datetime(2026, 10, 13, tzinfo=UTC).timestamp() * 1000)


def schedule(agent: int, acd: str, day: int) -> dict[str, Any]:
    return {"kind": "schedule", "body": {
        "tenantId": "acme", "agentId": agent, "acdAgentId": acd,
        "fromTimestamp": day, "toTimestamp": day + 24 * H,
        "activities": [{"activityType": "in_service", "startTime": day + 9 * H,
                        "endTime": day + 17 * H}]}}


def state(acd: str, ts: int, gis: int) -> dict[str, Any]:
    return {"kind": "state", "body": {"tenantId": "acme", "acdAgentId": acd,
                                      "gisStateIdentifier": gis, "timestamp": ts,
                                      "eventId": f"{acd}-{ts}"}}


def shift(acd: str, day: int) -> list[dict[str, Any]]:
    return [state(acd, day + 9 * H, 3), state(acd, day + 17 * H, 1)]


def test_the_span_bound_waits_for_the_grace_period(broker: Any, workers: Any,
                                                    tmp_path: Path) -> None:
    tenants = tenants_file(tmp_path, '[tenants.acme]\ntime_zone = "UTC"\n')
    workers(tenants, env={"RTA_HOLD_GRACE_SECONDS": "4"})
    # "a": its March and October shifts come before any schedule names it, and the
    # schedules right after: nothing is dropped, though the hold spans months (it
    # was: the March shift went to the dead letters, as if "a" had stayed unknown)
    early = [*shift("a", MARCH), *shift("a", OCTOBER)]
    named = [schedule(1, "a", MARCH), schedule(1, "a", OCTOBER)]
    produce(broker, early)
    produce(broker, named)
    want = expected([*named, *early], tenants)
    assert {k.rsplit(":", 1)[1] for k in want} == {"2026-03-10", "2026-10-13"}
    assert_adherence_becomes(broker, want, timeout=60)
    assert topic_records(broker, "rta.deadletter") == []

    # "b" stays unknown past the grace period: then the span bound applies, and its
    # March shift goes to the dead letters with the reason
    produce(broker, shift("b", MARCH))
    time.sleep(6)
    produce(broker, shift("b", OCTOBER))
    dead = wait_for(lambda: topic_records(broker, "rta.deadletter"), timeout=30)
    assert sorted(orjson.loads(d["value"]["utf8"])["timestamp"] for _, d in dead) == [
        MARCH + 9 * H, MARCH + 17 * H], dead
    assert all("held events exceed" in d["reason"] for _, d in dead), dead
    b_named = [schedule(2, "b", MARCH), schedule(2, "b", OCTOBER)]
    produce(broker, b_named)
    # as replay has it with "b" unknown through its October shift: March dropped
    want_b = expected([*named, *early, *shift("b", MARCH), *shift("b", OCTOBER), *b_named],
                      tenants)
    assert want_b["acme:2:2026-03-10"]["actualInServiceSeconds"] == 0
    assert want_b["acme:2:2026-10-13"]["actualInServiceSeconds"] == 8 * 3600
    assert_adherence_becomes(broker, want_b, timeout=60)
