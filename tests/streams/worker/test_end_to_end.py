"""The stream service on a real broker equals `rta replay` on the same log."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.local.simulate import CentreSpec, generate
from tests.support.brokers import TestBroker
from tests.support.results import assert_adherence_becomes, expected, tenants_file
from tests.support.workers import latest, produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


@pytest.mark.tansu
def test_results_equal_replay(broker: TestBroker, workers: Any, tmp_path: Path) -> None:
    # overnight shifts across the fall-back day, late and duplicate events, mid-day
    # schedule changes, multi-channel agents, identities known after their states
    spec = CentreSpec(agents=12, days=2, start=date(2026, 10, 31), tenant="northwind",
                      time_zone="America/Chicago", seed=5, late_fraction=0.05,
                      duplicate_fraction=0.05, overnight_fraction=0.4,
                      multichannel_fraction=0.3, schedule_change_fraction=0.3,
                      identities_known_late_fraction=0.3)
    records = list(generate(spec))
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    assert {k.rsplit(":", 1)[1] for k in want} >= {"2026-10-31", "2026-11-01"}
    workers(tenants)
    produce(broker, records)
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []


@pytest.mark.tansu
def test_poison_messages_are_dead_lettered_and_the_rest_processed(
        broker: TestBroker, workers: Any, tmp_path: Path) -> None:
    spec = CentreSpec(agents=3, days=1, start=date(2026, 3, 9), tenant="northwind",
                      time_zone="America/Chicago", seed=9, multichannel_fraction=0)
    good = list(generate(spec))
    poison: list[Any] = [
        b"not json at all",
        b"\xff\xfe\x00binary",
        orjson.dumps({"tenantId": "northwind", "acdAgentId": "1", "gisStateIdentifier": "42",
                      "timestamp": 1773000000000}),
        orjson.dumps({"tenantId": "northwind", "acdAgentId": "1", "gisStateIdentifier": 3,
                      "timestamp": "yesterday"}),
        orjson.dumps({"tenantId": "northwind", "gisStateIdentifier": 3}),
        orjson.dumps([1, 2, 3]),
        # over the engine's limit (RTA_MAX_MESSAGE_BYTES), under Kafka's default
        # message.max.bytes (1,048,588), which refuses larger records at the producer
        b'{"tenantId": "northwind", "pad": "' + b"x" * 1_040_000 + b'"}',
    ]
    half = len(good) // 2
    tenants = tenants_file(tmp_path)
    workers(tenants)
    produce(broker, good[:half] + poison + good[half:]
            + [{"kind": "schedule", "body": {"tenantId": "northwind", "agentId": 1}}])
    want = expected(good, tenants)
    assert_adherence_becomes(broker, want)
    dead = [v for _, v in topic_records(broker, "rta.deadletter")]
    reasons = sorted(d["reason"] for d in dead)
    assert len(dead) == len(poison) + 1, reasons
    assert any(r.startswith("not valid JSON") for r in reasons)
    assert any("gisStateIdentifier: unknown state id '42'" in r for r in reasons)
    assert any("timestamp: must be an integer of epoch milliseconds" in r for r in reasons)
    assert any("acdAgentId: is required" in r for r in reasons)
    assert any("state event must be a JSON object, got list" in r for r in reasons)
    assert any("exceeds the limit of 1000000" in r for r in reasons)
    assert any("fromTimestamp: is required" in r for r in reasons)
    big = next(d for d in dead if "exceeds the limit" in d["reason"])
    assert (big["truncated"], big["valueBytes"]) == (True, 1_040_000 + 36)
    assert all({"sourceTopic", "partition", "offset", "key", "value"} <= set(d) for d in dead)
    binary = next(d for d in dead if d["value"] and "base64" in d["value"])
    assert binary["sourceTopic"] == broker.topic("rta.agent-state")


def test_alert_fires_at_threshold_with_no_further_input(
        broker: TestBroker, workers: Any, tmp_path: Path) -> None:
    tenants = tenants_file(tmp_path)  # alert_after_seconds = 2
    workers(tenants)
    now = int(time.time() * 1000)
    produce(broker, [
        {"kind": "schedule", "body": {
            "tenantId": "northwind", "agentId": 42, "acdAgentId": "a42",
            "fromTimestamp": now - 3_600_000, "toTimestamp": now + 3_600_000,
            "activities": [{"activityType": "in_service", "startTime": now - 3_600_000,
                            "endTime": now + 3_600_000}]}},
        {"kind": "state", "body": {"tenantId": "northwind", "acdAgentId": "a42",
                                   "gisStateIdentifier": 3, "timestamp": now - 60_000}},
    ])
    wait_for(lambda: "northwind:42" in latest(broker, "rta.agent-status"), timeout=30, every=0.5)
    out_at = int(time.time() * 1000)
    produce(broker, [{"kind": "state", "body": {
        "tenantId": "northwind", "acdAgentId": "a42", "gisStateIdentifier": 2,
        "reasonCode": 7, "timestamp": out_at}}])

    # (the agent was logged out, so OUT, from the shift start until the READY event:
    # that earlier run has its own alert)
    alert_id = f"northwind:42:{out_at}"

    def started() -> Any:
        return [v for _, v in topic_records(broker, "rta.alerts", idle=0.3)
                if v["type"] == "ALERT_STARTED" and v["alertId"] == alert_id]

    [alert] = wait_for(started, timeout=30, every=0.2)
    seen_at = int(time.time() * 1000)
    assert (alert["at"], alert["state"], alert["reasonCode"]) == (out_at + 2000, "NOT_READY", 7)
    # fired by the timer, with no new input, within a second of the threshold
    # (plus this test's polling of the topic)
    assert seen_at - alert["at"] < 3000
    status = latest(broker, "rta.agent-status")["northwind:42"]
    assert (status["adherence"], status["outOfAdherenceSince"]) == ("OUT", out_at)
