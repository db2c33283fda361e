"""`rta bench connect` runs and its figures add up (a small centre, a fast limit)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # starts a broker


def test_bench_connect_prints_both_catch_ups() -> None:
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "bench", "connect",
                          "--agents", "3", "--rate", "20", "--per", "50"],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-2000:]
    records = int(re.search(r"(\d+) CCAI activity log records", out.stdout).group(1))  # type: ignore[union-attr]
    rows = {m.group(1): dict(re.findall(r"(\w+) ([\d.]+)", m.group(2)))
            for m in re.finditer(r"^(baseline|limited) +(.*)$", out.stdout, re.M)}
    assert set(rows) == {"baseline", "limited"}
    for row in rows.values():
        assert int(row["events"]) == records
        assert int(row["requests"]) >= records // 50
        assert int(row["throttled"]) == 0
    # at 20 requests/s the limited catch-up cannot be faster than its requests allow
    assert float(rows["limited"]["seconds"]) >= (int(rows["limited"]["requests"]) - 1) / 20 * 0.9
