"""`rta up --demo`: a simulated centre fed to the local engine as if it were live.

Yesterday and today of a small centre (``rta simulate``'s generator, tenant
``northwind``, America/Chicago): everything stamped before now is sent at once
(the worker catches up on it, in event time), and the rest is sent when the
wall clock reaches it, so states change, alerts fire and today's summaries
move while you watch.

Its tenant, with the demo credentials the banner of `rta up` names, is in
``demo-tenants.toml`` beside this module: package data, the default tenants
file of `rta up` wherever it runs from (``examples/tenants.toml`` in the
repository links to it).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka import AIOKafkaProducer

from streams.kafka import record_key
from streams.local.simulate import CentreSpec, generate
from streams.settings import WorkerSettings

TENANT = "northwind"
TIME_ZONE = "America/Chicago"
DEMO_KEY = "northwind-demo-key"  # its hash is in demo-tenants.toml


@contextmanager
def demo_tenants_file() -> Iterator[Path]:
    """The path of ``demo-tenants.toml`` while the context lasts (a real file of
    the installed package; a temporary copy if the package is zipped)."""
    with resources.as_file(resources.files("streams.local") / "demo-tenants.toml") as path:
        yield path


def demo_records(agents: int, now_ms: int) -> list[dict[str, Any]]:
    """Yesterday and today (tenant time) of an ``agents``-agent centre."""
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(TIME_ZONE)).date()
    spec = CentreSpec(agents=agents, days=2, start=today - timedelta(days=1), tenant=TENANT,
                      time_zone=TIME_ZONE, seed=7, late_fraction=0.02,
                      duplicate_fraction=0.01, overnight_fraction=0.15,
                      multichannel_fraction=0.2, schedule_change_fraction=0.2)
    return list(generate(spec))


async def feed(settings: WorkerSettings, records: list[dict[str, Any]],
               stop: threading.Event, announce: bool = True) -> int:
    """Send the records in order; a state event is held back until its timestamp."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    burst = True
    try:
        for rec in records:
            kind, body = rec["kind"], rec["body"]
            if kind == "state":
                while body["timestamp"] > time.time() * 1000:
                    if burst:
                        await producer.flush()
                        burst = False
                        if announce:
                            print(f"demo: sent the {sent:,} records stamped before now "
                                  f"(tenant {TENANT}, yesterday and today); the rest arrive "
                                  f"as the clock reaches them", file=sys.stderr, flush=True)
                    if stop.is_set():
                        return sent
                    await asyncio.sleep(min(1.0, max(0.0, body["timestamp"] / 1000
                                                     - time.time())))
            if stop.is_set():
                return sent
            topic = settings.topic_state if kind == "state" else settings.topic_schedule
            await producer.send(topic, orjson.dumps(body), key=record_key(kind, body))
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def start_demo(settings: WorkerSettings, agents: int) -> threading.Event:
    """Feed the demo from a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    records = demo_records(agents, int(time.time() * 1000))

    def run() -> None:
        try:
            asyncio.run(feed(settings, records, stop))
        except Exception as exc:  # the engine keeps running without its demo
            print(f"demo: stopped: {exc!r}", file=sys.stderr, flush=True)

    threading.Thread(target=run, name="rta-demo", daemon=True).start()
    return stop
