"""``rta bench connect``: a connector catching up a simulated day, and what the
platform's rate limit does to it.

A simulated day of ``--agents`` agents (``streams.local.acd_sim``) is served by the
loopback CCAI Platform (``streams.local.fake_ccai``), which answers 429 to a
customer calling more often than its limit. ``rta connect ccai``'s connector
(in this process) reads it from the start and publishes to a local broker; the
figures are the catch-up's: events, requests, pages, 429s, seconds, events/s,
seconds spent waiting for the rate limit. The same catch-up runs twice in the
same run and on the same broker:

- **limited**: the platform's documented 1 request per second (``--rate``), the
  connector configured to it (its token bucket keeps 5 % under it);
- **baseline**: no limit at either end, the same pages: what the connector,
  the HTTP and the broker cost without the platform's rule.

The limited catch-up's time is about ``requests / rate``: with ``--per`` records
a page, at most ``rate * per`` records a second come in, whatever the machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from streams.acd.config import ConnectorConfig
from streams.acd.connector import Connector
from streams.local.acd_sim import ccai_day, to_ccai_logs
from streams.local.bench_pipeline import _bench_broker
from streams.local.fake_ccai import FakeCcai

TOKEN = "bench-token"


async def _catch_up(settings: Any, url: str, rate: float, per: int, name: str,
                    total: int) -> dict[str, Any]:
    config = ConnectorConfig.from_mapping("ccai", {
        "connector": {"tenant": "bench", "acd_server_id": "ccai", "base_url": url,
                      "name": name, "poll_seconds": 0.05, "rate_limit_per_second": rate,
                      "start_from": "2026-03-01T00:00:00Z", "max_pages_per_poll": 1000},
        "ccai": {"subdomain": "bench", "per_page": per, "reconcile": False},
    }, "<bench>", env={"RTA_CCAI_TOKEN": TOKEN})
    conn = Connector(settings, config)
    await conn.start()
    started = time.monotonic()
    try:
        while conn.published < total:
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - started
    finally:
        await conn.stop()
    http = conn.source.http  # type: ignore[attr-defined]
    return {"events": conn.published, "requests": http.requests,
            "throttled": http.statuses[429], "seconds": round(seconds, 2),
            "events_per_s": round(conn.published / seconds, 1),
            "rate_wait_s": round(http.bucket.waited, 2)}


def bench_connect(agents: int, rate: float, per: int, broker: str = "tansu") -> int:
    day = ccai_day(seed=1, agents=agents)
    records = to_ccai_logs(day.canonical)
    print(f"simulated day: {agents} agents, {len(records)} CCAI activity log records, "
          f"{per} a page; platform limit {rate:g} request/s", flush=True)
    with _bench_broker('[tenants.bench]\ntime_zone = "America/Chicago"\n', broker) as (
            _tmp, _tenants, settings):
        rows = []
        for name, limit in (("baseline", 0.0), ("limited", rate)):
            fake = FakeCcai(subdomain="bench", token=TOKEN, rate_per_second=limit or 1e6,
                            max_per=per).start()
            try:
                fake.add_logs(records)
                # the events the connector makes: one per record (login, logout and
                # status records all set a state)
                res = asyncio.run(_catch_up(settings, fake.url, limit or 1e6, per, name,
                                            len(records)))
            finally:
                fake.stop()
            rows.append((name, res))
            print(f"{name:9} " + "  ".join(f"{k} {v}" for k, v in res.items()), flush=True)
    base, lim = rows[0][1], rows[1][1]
    print(f"the limit makes the catch-up {lim['seconds'] / max(base['seconds'], 1e-9):.1f}x "
          f"longer: {lim['requests']} requests at {rate:g}/s take at least "
          f"{(lim['requests'] - 1) / rate:.0f} s; {lim['throttled']} answered 429")
    return 0
