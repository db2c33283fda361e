"""The stream service equals `rta replay` for generated logs, any reading order, any crash.

Each seed gives a log (tests/support/logs.py: both DST seasons months apart,
multi-channel agents on different input partitions, identities known late and
moved, late, duplicate and id-less events, schedule changes) and a run: one to
three workers, the log produced in chunks, and between chunks kill -9 and
restart, SIGSTOP/SIGCONT (longer than the session timeout, so the group
rebalances around a frozen member), or nothing. Then:

- ``rta.adherence`` equals `rta replay` on every agent-day, except the days a
  dead letter sends to ``rta recompute``;
- every input event is applied or dead-lettered with a reason: replay rejects
  none of these logs, and the only dead letters allowed are identity moves
  whose history the log itself had already made final when it moved them (the
  latest mapping applies to all of an identity's events: a channel moved in
  October takes its March days along, which without a history database only
  `rta recompute` can do; docs/HISTORY.md). Each such letter is checked
  against the log: the days it names lie before the lateness horizon of every
  event the log holds before the move;
- the alerts keep their rules (docs/SEMANTICS.md, "Alerts");
- the group's committed offsets reach the end of each input partition.

Seed 1 runs in CI (on the suite's broker and on Tansu);
``RTA_STREAM_SEEDS`` chooses others: ``RTA_STREAM_SEEDS=100-139`` is the deep run
(``-`` ranges and ``,`` lists). Alerts are checked against their rules, not
against the oracle's: the alert timer evaluates agents at the worker clock when
their input looks caught up, which between two chunks of the log it is, and each
later event is then evaluated against the timeline known so far (SEMANTICS.md,
"Alerts": catch-up). A failure names its seed and its faults, and leaves the
reducers' snapshots, the held events, the directory (topic and changelogs) and
the agent-input records beside the workers' logs.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from rta.config import TenantsConfig
from tests.support.brokers import DEFAULT_KIND, TestBroker
from tests.support.logs import TENANTS_TOML, describe, hostile_log
from tests.support.results import (
    adherence_without_as_of,
    assert_adherence_becomes,
    assert_one_id_per_out_run,
    expected,
    tenants_file,
)
from tests.support.workers import latest, produce, topic_records

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


def runs() -> list[tuple[str, int]]:
    """``(broker kind, seed)``: every seed on the suite's broker, the first on Tansu too."""
    spec = os.environ.get("RTA_STREAM_SEEDS", "1")
    seeds: list[int] = []
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        seeds += range(int(lo), int(hi or lo) + 1)
    out = [(DEFAULT_KIND, s) for s in seeds]
    if DEFAULT_KIND != "tansu" and seeds:
        out.insert(1, ("tansu", seeds[0]))
    return out


def plan(seed: int, n: int) -> tuple[int, list[tuple[int, str, float]]]:
    """Worker count and ``(chunk end, fault, pause)`` steps for a log of ``n`` records."""
    rng = random.Random(seed * 7919)
    workers = rng.choice([1, 1, 2, 2, 3])
    chunks = rng.randint(2, 5)
    cuts = [*sorted(rng.sample(range(1, n), chunks - 1)), n]
    faults = ["none", "kill", "kill", "stop"]
    return workers, [(c, rng.choice(faults), rng.uniform(0.0, 3.0)) for c in cuts]


async def committed_behind(broker: TestBroker) -> dict[str, int]:
    """Input partitions whose committed offset (the worker group's) is short of the
    end, with how many records are left."""
    settings = broker.settings()
    topics = [settings.topic_state, settings.topic_schedule]
    # (a consumer in the workers' group that never joins it: Tansu's answer to the
    # admin client's offset fetch is one aiokafka cannot read)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap,
                                group_id=settings.app_id, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata of the topics
        parts = [TopicPartition(t, p) for t in topics
                 for p in (consumer.partitions_for_topic(t) or set())]
        ends = await consumer.end_offsets(parts)
        behind = {}
        for tp, end in ends.items():
            done = await consumer.committed(tp) or 0
            if done < end:
                behind[f"{tp.topic}[{tp.partition}]"] = end - done
    finally:
        await consumer.stop()
    return behind


# the workers' stall limit here (a supervisor restarts them): faust's table recovery
# can hang after rebalances in quick succession (streams/worker/timers.py)
ENV = {"RTA_RECOVERY_STALL_SECONDS": "30"}


def supervise(running: list[Any], workers: Any, tenants: Path) -> None:
    """What a supervisor does: start again a worker that stopped (a worker frozen for
    longer than the session timeout stops itself when it wakes, exit status 70; so
    does one whose tables do not recover)."""
    for i, w in enumerate(running):
        if w.proc is None or w.proc.poll() is not None:
            running[i] = workers(tenants, name=w.name, env=ENV)


def moves_to_recompute(broker: TestBroker, records: list[dict[str, Any]],
                       tenants: Path) -> tuple[set[str], list[str]]:
    """The agent-days the dead letters send to ``rta recompute`` for an identity
    move, and the reasons of every other dead letter (none are allowed). Each move
    letter is checked against the log: the worker may make a day final only once
    the log has an event more than the lateness horizon after it, so the days it
    names must lie before the horizon of the newest event before the move."""
    settings = TenantsConfig.from_toml(tenants.read_text()).get("northwind")
    zone = settings.zone
    horizon = settings.lateness_horizon_seconds * 1000
    days: set[str] = set()
    others: list[str] = []
    for _, letter in topic_records(broker, "rta.deadletter"):
        body = orjson.loads(letter["value"]["utf8"]) if letter.get("value") else {}
        if not isinstance(body, dict) or "first" not in body or "to" not in body:
            others.append(letter["reason"])
            continue
        identity = (body["acdServerId"], body["acdAgentId"])
        newest, owner = -1, None
        for rec in records:
            b = rec["body"]
            if rec["kind"] == "state":
                newest = max(newest, b["timestamp"])
                continue
            named = {(b["acdServerId"], b["acdAgentId"]), *(
                (x["acdServerId"], x["acdAgentId"]) for x in b.get("acdIdentities", []))}
            if identity in named:
                if owner == body["from"] and str(b["agentId"]) == body["to"]:
                    break  # the move
                owner = str(b["agentId"])
        else:
            others.append(f"no move in the log: {letter['reason']}")
            continue
        bound = datetime.fromtimestamp((newest - horizon) / 1000, zone).date()
        assert date.fromisoformat(body["last"]) < bound, (
            f"days made final before the log allows: {letter['reason']}")
        day = date.fromisoformat(body["first"])
        while day <= date.fromisoformat(body["last"]):
            days.update(f"northwind:{agent}:{day.isoformat()}"
                        for agent in (body["from"], body["to"]))
            day += timedelta(days=1)
    return days, others


def without(summaries: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in summaries.items() if k not in keys}


def supervised_until_equal(broker: TestBroker, want: dict[str, Any], running: list[Any],
                           workers: Any, tenants: Path, timeout: float,
                           records: list[dict[str, Any]]) -> None:
    """Wait for rta.adherence to equal ``want`` (but for the days sent to a
    recompute), supervising the workers meanwhile."""
    deadline = time.monotonic() + timeout
    excused: set[str] = set()
    while time.monotonic() < deadline:
        supervise(running, workers, tenants)
        excused, _ = moves_to_recompute(broker, records, tenants)
        if without(adherence_without_as_of(broker), excused) == without(want, excused):
            return
        time.sleep(2)
    assert_adherence_becomes(broker, without(want, excused), timeout=1,
                             skip=excused)  # fails, saying how


@pytest.mark.parametrize(("broker_kind", "seed"), runs())
def test_stream_equals_replay_for_any_reading_order_and_crash(
        seed: int, broker: TestBroker, workers: Any, tmp_path: Path) -> None:
    records = hostile_log(seed, agents=6, days=1, partitions=broker.settings().partitions)
    tenants = tenants_file(tmp_path, TENANTS_TOML)
    want = expected(records, tenants)
    count, steps = plan(seed, len(records))
    story = f"seed {seed}: {describe(records)}; {count} worker(s); steps {steps}"
    print(story)
    rng = random.Random(seed)
    running = [workers(tenants, name=f"w{i + 1}", env=ENV) for i in range(count)]
    start = 0
    kills = stops = 0
    for end, fault, pause in steps:
        produce(broker, records[start:end])
        start = end
        time.sleep(pause)
        victim = rng.choice(running)
        if fault == "kill":
            victim.kill(signal.SIGKILL)
            kills += 1
            running[running.index(victim)] = workers(tenants, name=victim.name, env=ENV)
        elif fault == "stop":
            assert victim.proc is not None
            os.killpg(victim.proc.pid, signal.SIGSTOP)
            time.sleep(3.0)  # twice the session timeout: the group rebalances without it
            os.killpg(victim.proc.pid, signal.SIGCONT)
            stops += 1
        supervise(running, workers, tenants)
    supervise(running, workers, tenants)
    try:
        supervised_until_equal(broker, want, running, workers, tenants, timeout=240,
                               records=records)
        excused, others = moves_to_recompute(broker, records, tenants)
        assert others == [], f"dead letters: {sorted(set(others))[:5]}"
        if excused:
            print(f"sent to rta recompute (identity moves): {sorted(excused)}")
        # the alert rules, and alerts at all: a tick at the worker clock between an
        # agent's schedule and its events no longer silences its backlog
        assert assert_one_id_per_out_run(broker) > 0
        behind: dict[str, int] = {}
        for _ in range(60):
            behind = asyncio.run(committed_behind(broker))
            if not behind:
                break
            time.sleep(1.0)
        assert not behind, f"committed offsets short of the end: {behind}"
    except (AssertionError, TimeoutError) as exc:
        # for the post-mortem: the reducers' last snapshots, next to the workers' logs
        for table in ("agents", "held", "directory"):
            (tmp_path / f"{table}.json").write_bytes(orjson.dumps(
                latest(broker, f"rta-{table}-changelog"), option=orjson.OPT_INDENT_2))
        for table in ("held", "directory"):  # every change, in order
            (tmp_path / f"{table}-changelog.json").write_bytes(orjson.dumps(
                [[k.decode() if k else None, v] for k, v in
                 topic_records(broker, f"rta-{table}-changelog")],
                option=orjson.OPT_INDENT_2))
        for internal in ("agent-input", "directory"):
            (tmp_path / f"{internal}.json").write_bytes(orjson.dumps(
                [v for _, v in topic_records(broker, f"rta-{internal}")],
                option=orjson.OPT_INDENT_2))
        raise AssertionError(f"{story} (kills {kills}, stops {stops}): {exc}") from exc
