"""SIGTERM of a worker under load on the real broker (docs/ARCHITECTURE.md,
"Shutdown"): the worker finishes the batch in hand, commits, leaves the group and
exits 0 within the grace period; the survivor takes its partitions over at once
(not after the session timeout); nothing is lost or doubled. The stopped worker
logs JSON (RTA_LOG_FORMAT=json): every line of its stderr is a JSON object,
faust's and aiokafka's included."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.brokers import TestBroker
from tests.support.results import (
    assert_adherence_becomes,
    assert_one_id_per_out_run,
    expected,
    failure_centre,
    tenants_file,
)
from tests.support.workers import Worker, produce, topic_records, wait_for

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

SESSION_TIMEOUT = 20.0  # long: a worker that did not leave would be noticed this late
GROUP = {"RTA_BROKER_SESSION_TIMEOUT": str(SESSION_TIMEOUT),
         "RTA_BROKER_HEARTBEAT_INTERVAL": "0.5", "RTA_LOG_FORMAT": "json",
         "RTA_SHUTDOWN_GRACE_SECONDS": "20"}
GRACE = 30.0  # Kubernetes' default terminationGracePeriodSeconds


def figures(w: Worker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{w.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def taken(w: Worker, topic: str) -> float:
    try:
        return figures(w).get(("rta_records_in_total", (("topic", topic),)), 0.0)
    except OSError:
        return 0.0


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert lines
    out = []
    for line in lines:
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            raise AssertionError(f"not a JSON line on stderr: {line!r}") from None
    for x in out:
        assert {"ts", "level", "logger", "message", "process"} <= set(x), x
    return out


def at(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["ts"].replace("Z", "+00:00")).timestamp()


def test_sigterm_under_load_finishes_commits_and_leaves(broker: TestBroker, workers: Any,
                                                        tmp_path: Path) -> None:
    records = failure_centre(seed=24)  # 10 agents, 2 days: ~5,500 records
    tenants = tenants_file(tmp_path)
    want = expected(records, tenants)
    w1 = workers(tenants, name="w1", env=GROUP, split_stderr=True)
    w2 = workers(tenants, name="w2", env=GROUP, split_stderr=True)
    assert w2.err is not None and w1.err is not None
    state_topic = broker.topic("rta.agent-state")

    # two thirds of the log at once: a backlog, so w2 is busy when it is told to stop;
    # the rest while it stops (the survivor gets it)
    n = len(records)
    produce(broker, records[:2 * n // 3])
    wait_for(lambda: taken(w2, state_topic) > 500, timeout=60, every=0.05)
    assert w2.proc is not None
    sent_at = time.time()
    os.killpg(w2.proc.pid, signal.SIGTERM)
    feeding = threading.Thread(target=produce, args=(broker, records[2 * n // 3:]))
    feeding.start()
    code = w2.proc.wait(timeout=GRACE + 30)
    exited_at = time.time()
    w2.proc = None
    feeding.join()
    assert code == 0, w2.output()[-3000:]
    assert exited_at - sent_at < GRACE, f"stopped in {exited_at - sent_at:.1f} s"

    # its stderr: JSON lines only, faust's and aiokafka's through the same formatter
    lines = json_lines(w2.err)
    loggers = {x["logger"] for x in lines}
    assert any(name.startswith("faust") for name in loggers), loggers
    assert any(name.startswith("aiokafka") for name in loggers), loggers
    assert {x["process"] for x in lines} == {"rta worker"}
    # a clean stop: no traceback, no error; the batch in hand finished and committed
    assert not [x for x in lines if "exc" in x or x["level"] in ("ERROR", "CRITICAL")]
    assert "Traceback" not in w2.output()
    messages = [x["message"] for x in lines]
    began = [m for m in messages if m.startswith("stopping: finishing the batch in hand")]
    assert began, messages[-20:]
    in_hand = int(began[0].split("(")[1].split()[0])
    assert in_hand > 0, f"w2 was idle when stopped: {began[0]}"  # it was processing
    [done] = [m for m in messages if m.startswith("stopping: batch in hand")]
    assert "batch in hand finished, offsets committed" in done, done
    assert "leaving the group" in done
    left = [x for x in lines if "LeaveGroup request succeeded" in x["message"]]
    assert left, messages[-20:]  # the worker's group (and its history sink's, if any)
    assert "rta worker stopped" in messages[-5:]
    assert any("Signal received: 15" in m for m in messages)  # (faust's own lines)

    # the survivor's rebalance came within seconds of the leave, not after the session
    # timeout: it was assigned every partition
    def taken_over() -> list[dict[str, Any]]:
        return [x for x in json_lines(w1.err) if x["message"].startswith("partitions assigned")
                and "[0, 1, 2, 3]" in x["message"] and at(x) >= sent_at - 1]

    # (its log line may come a moment after w2's exit on a loaded machine: waited for;
    # the delay below is measured from the log lines' own times)
    took_over = wait_for(taken_over, timeout=SESSION_TIMEOUT * 2, every=0.5)
    delay = at(took_over[0]) - at(left[0])
    assert delay < SESSION_TIMEOUT / 4, f"the survivor rebalanced {delay:.1f} s after the leave"

    # nothing lost, nothing doubled: the replay's results, one id per OUT run, no dead
    # letters, and every input committed to its end by the survivor
    assert_adherence_becomes(broker, want)
    assert topic_records(broker, "rta.deadletter") == []
    assert assert_one_id_per_out_run(broker) > 0
    wait_for(lambda: broker.behind(broker.namespace, [
        "rta.agent-state", "rta.schedule", "rta-directory", "rta-agent-input"]) == 0,
        timeout=60)
    # the survivor's figures: its consumer lag by topic is measured, and statuses were
    # timed from the router
    wait_for(lambda: figures(w1)[("rta_consumer_lag_records", (("topic", state_topic),))]
             == 0, timeout=30)
    assert figures(w1)[("rta_status_latency_seconds_count", ())] > 0
