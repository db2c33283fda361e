"""The soak (`rta bench soak`) at a small scale: a compressed simulated day through one
worker with memory sampled, then a recovery. Its figures at 5,000 agents are the
README's capacity notes; here it must run, apply the whole day, keep every agent,
and show no leak (the memory retained per record applied stays flat through the
day: a worker keeps each agent's records for the lateness horizon, so memory
grows with records, not with time)."""

from __future__ import annotations

import pytest

from streams.local.bench_soak import soak

pytestmark = pytest.mark.slow  # starts a broker and two workers


def test_a_compressed_day_keeps_memory_per_record_flat_and_recovers() -> None:
    out = soak(agents=150, chunks=4, broker="tansu", timeout=300)
    samples = out["samples"]
    assert [s["applied"] for s in samples] == sorted(s["applied"] for s in samples)
    assert samples[-1]["applied"] == out["records"]
    assert samples[-1]["agents"] == 150
    per_record = [s["bytes_per_record"] for s in samples[1:]]  # the first part: warm-up
    assert max(per_record) < 2 * min(per_record), per_record  # no leak
    assert out["recovery_s"] > 0 and out["recovered_rss_mib"] > 0
