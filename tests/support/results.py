"""What the engine should publish for a log, and how tests wait for it: `rta replay`'s
summaries as the expectation, rta.adherence compared with them, the alert rules."""

from __future__ import annotations

import itertools
import time
from datetime import date
from pathlib import Path
from typing import Any

from rta.config import TenantsConfig
from rta.replay import replay_log
from streams.local.simulate import CentreSpec, generate
from tests.support.brokers import TestBroker
from tests.support.workers import latest, topic_records

TENANTS = '[tenants.northwind]\ntime_zone = "America/Chicago"\nalert_after_seconds = 2\n'


def tenants_file(tmp_path: Path, text: str = TENANTS) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def expected(records: list[dict[str, Any]], tenants: Path) -> dict[str, Any]:
    cfg = TenantsConfig.from_toml(tenants.read_text())
    return {f"{s['tenantId']}:{s['agentId']}:{s['date']}": s
            for s in replay_log(records, cfg).summaries}


def assert_adherence_becomes(broker: TestBroker, want: dict[str, Any],
                             timeout: float = 120, skip: frozenset[str] | set[str] = frozenset()
                             ) -> None:
    """Wait until rta.adherence (latest per key, without asOf; but the keys in
    ``skip``) equals ``want``."""
    got: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {k: v for k, v in adherence_without_as_of(broker).items() if k not in skip}
        if got == want:
            return
        time.sleep(2)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in want if k in got and got[k] != want[k])
    detail = {k: {f: (want[k][f], got[k][f]) for f in want[k]
                  if f != "details" and want[k][f] != got[k][f]} for k in differ[:3]}
    for k in differ[:1]:
        for i, (dw, dg) in enumerate(zip(want[k]["details"], got[k]["details"], strict=False)):
            if dw != dg:
                aw, ag = dw["actuals"], dg["actuals"]
                j = next((j for j, (x, y) in enumerate(zip(aw, ag, strict=False)) if x != y),
                         min(len(aw), len(ag)))
                detail[f"{k} detail {i}"] = {
                    "totals": ({f: dw[f] for f in dw if f != "actuals"},
                               {f: dg[f] for f in dg if f != "actuals"}),
                    "actuals": (len(aw), len(ag)), "first differing": (aw[j:j + 2], ag[j:j + 2])}
                break
    for k in extra[:1]:
        detail[f"{k} (extra)"] = {f: v for f, v in got[k].items() if f != "details"}
    raise AssertionError(f"missing {missing[:5]}, extra {extra[:5]}, "
                         f"differing {len(differ)}: {detail}")


def adherence_without_as_of(broker: TestBroker) -> dict[str, Any]:
    out = {}
    for k, v in latest(broker, "rta.adherence").items():
        v = dict(v)
        v.pop("asOf")
        out[k] = v
    return out


def failure_centre(seed: int) -> list[dict[str, Any]]:
    spec = CentreSpec(agents=10, days=2, start=date(2026, 3, 7), tenant="northwind",
                      time_zone="America/Chicago", seed=seed, late_fraction=0.05,
                      duplicate_fraction=0.05, overnight_fraction=0.3,
                      multichannel_fraction=0.3, schedule_change_fraction=0.3,
                      identities_known_late_fraction=0.2)
    return list(generate(spec))


def assert_one_id_per_out_run(broker: TestBroker) -> int:
    """The alert rules (docs/SEMANTICS.md): a re-sent alert is identical to the first
    copy (whole), each id has one ALERT_STARTED and at most one ALERT_ENDED, and an
    agent's alerts never overlap in time."""
    started: dict[str, dict[str, Any]] = {}
    ended: dict[str, dict[str, Any]] = {}
    for _, v in topic_records(broker, "rta.alerts"):
        seen = started if v["type"] == "ALERT_STARTED" else ended
        first = seen.setdefault(v["alertId"], v)
        assert first == v, f"two different {v['type']} for {v['alertId']}: {first} and {v}"
    assert set(ended) <= set(started), "an ALERT_ENDED without its ALERT_STARTED"
    ends = {aid: v["end"] for aid, v in ended.items()}
    by_agent: dict[Any, list[tuple[int, int, str]]] = {}
    for aid, v in started.items():
        by_agent.setdefault(v["agentId"], []).append((v["start"], ends.get(aid, 2**62), aid))
    for runs in by_agent.values():
        runs.sort()
        for (_, e1, a1), (s2, _, a2) in itertools.pairwise(runs):
            assert s2 >= e1, f"{a1} and {a2} describe overlapping OUT runs"
    return len(started)
