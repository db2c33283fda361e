"""Table values over the broker's message size limit: an agent with a busy week of
history (its snapshot), a full hold. Stored compressed (``codec.pack_value``); they
used to stop the worker at every batch that saved them (exit 70, a crash loop)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.codec import PACK_OVER_BYTES, pack_value, unpack_value
from tests.support.results import assert_adherence_becomes, expected, tenants_file
from tests.support.workers import latest, produce, topic_records

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

H = 3_600_000
DAY = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1000)


def test_pack_round_trip_and_small_values_as_they_are() -> None:
    small = {"v": 1, "identities": [["1", "a", [[1, "e", 3, None]]]]}
    assert pack_value(small) == (small, orjson.dumps(small))
    rng = random.Random(7)
    big = {"v": 1, "identities": [["1", "a", [[1_772_000_000_000 + i * 997, f"ev-{i}",
                                               rng.randint(1, 10), None, i]
                                              for i in range(40_000)]]]}
    packed, data = pack_value(big)
    assert len(orjson.dumps(big)) > 1_048_576 > len(data) > PACK_OVER_BYTES
    assert set(packed) == {"z"} and orjson.loads(data) == packed
    assert unpack_value(packed) == big and unpack_value(small) == small
    assert unpack_value(None) is None and unpack_value(["1001", {}]) == ["1001", {}]


def test_an_agent_whose_snapshot_passes_the_message_limit(broker: Any, workers: Any,
                                                           tmp_path: Path) -> None:
    """A week of 3,000 state changes a day on one channel (a snapshot of ~1.4 MB),
    and one day of 14,000 (its summary, ~1.3 MB, does not fit one record either: it
    is published without its actuals, with ``actualsOmitted``)."""
    rng = random.Random(3)
    days = 7
    records: list[dict[str, Any]] = [{"kind": "schedule", "body": {
        "tenantId": "acme", "agentId": 1, "acdAgentId": "a", "fromTimestamp": DAY,
        "toTimestamp": DAY + days * 24 * H, "activities": [
            {"activityType": "in_service", "startTime": DAY + d * 24 * H + 8 * H,
             "endTime": DAY + d * 24 * H + 20 * H} for d in range(days)]}}]
    n = 0
    for d in range(days):
        ts = DAY + d * 24 * H + 8 * H
        for _ in range(14_000 if d == 3 else 3_000):
            ts += rng.randint(1_000, 3_000) if d == 3 else rng.randint(5_000, 14_000)
            n += 1
            records.append({"kind": "state", "body": {
                "tenantId": "acme", "acdAgentId": "a",
                "gisStateIdentifier": rng.choice([3, 4, 5]), "timestamp": ts,
                "eventId": f"busy-{n}"}})
        records.append({"kind": "state", "body": {
            "tenantId": "acme", "acdAgentId": "a", "gisStateIdentifier": 1,
            "timestamp": ts + 1000, "eventId": f"out-{d}"}})
    tenants = tenants_file(tmp_path, '[tenants.acme]\ntime_zone = "UTC"\n')
    w = workers(tenants)
    produce(broker, records)
    want = expected(records, tenants)
    big = "acme:1:2026-03-13"
    omitted = sum(len(x["actuals"]) for x in want[big]["details"])
    assert omitted > 9_000
    want[big] = {**want[big], "details": [{**x, "actuals": []} for x in want[big]["details"]],
                 "actualsOmitted": omitted}
    assert_adherence_becomes(broker, want, timeout=180)
    assert topic_records(broker, "rta.deadletter") == []
    snap = latest(broker, "rta-agents-changelog")['"acme:1"']
    assert set(snap) == {"z"}  # stored compressed
    assert sum(len(e) for _, _, e, *_ in unpack_value(snap)["identities"]) == n + days
    assert w.proc is not None and w.proc.poll() is None  # still running
    assert "does not fit one record" in w.log.read_text()
