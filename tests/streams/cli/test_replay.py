"""``rta replay`` end to end, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.local.simulate import CentreSpec, generate
from tests.support.oracle import reference_summaries


def rta(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "streams.cli.main", *args], input=stdin,
                          capture_output=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    spec = CentreSpec(agents=25, days=3, start=__import__("datetime").date(2026, 10, 31),
                      time_zone="America/Chicago", tenant="northwind", seed=11,
                      late_fraction=0.05, duplicate_fraction=0.03,
                      identities_known_late_fraction=0.2, overnight_fraction=0.3)
    records = list(generate(spec))
    path = tmp_path_factory.mktemp("log") / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path, records


def test_replay_of_a_generated_log_equals_the_reference(log: tuple[Path, list[dict]],
                                                         tmp_path: Path) -> None:
    path, records = log
    tenants = tmp_path / "tenants.toml"
    tenants.write_text('[tenants.northwind]\ntime_zone = "America/Chicago"\n')
    res = rta("replay", str(path), "--tenants", str(tenants))
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    # 2026-11-01 is the fall-back day in Chicago: overnight shifts cross it
    assert {s["date"] for s in out} >= {"2026-10-31", "2026-11-01", "2026-11-02"}
    assert out == reference_summaries(records, {"northwind": {"time_zone": "America/Chicago"}})


def test_as_of_and_stdin(log: tuple[Path, list[dict]]) -> None:
    path, records = log
    as_of = max(r["body"].get("timestamp", 0) for r in records) - 36 * 3600 * 1000
    res = rta("replay", "-", "--tenant-timezone", "America/Chicago", "--as-of", str(as_of),
              stdin=path.read_bytes())
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(res.stdout) == reference_summaries(
        records, default_time_zone="America/Chicago", as_of=as_of)


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_is_processed(
        log: tuple[Path, list[dict]], tmp_path: Path) -> None:
    path, records = log
    lines = path.read_text().splitlines()
    bad = {
        3: "{not json",
        10: json.dumps({"kind": "state", "body": {"tenantId": "northwind", "acdAgentId": "1",
                                                  "gisStateIdentifier": "12",
                                                  "timestamp": 1}}),
        20: json.dumps({"kind": "nope", "body": {}}),
        30: json.dumps([1, 2]),
    }
    for n in sorted(bad):
        lines.insert(n - 1, bad[n])
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(lines) + "\n")
    res = rta("replay", str(mixed), "--tenant-timezone", "America/Chicago")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f"{mixed}:3: rejected: not valid JSON" in err
    assert f"{mixed}:10: rejected: gisStateIdentifier: unknown state id '12'" in err
    assert f"{mixed}:20: rejected: kind: must be 'state' or 'schedule'" in err
    assert f"{mixed}:30: rejected: record must be a JSON object" in err
    assert "4 line(s) rejected" in err
    # valid data is never lost with the bad lines
    assert json.loads(res.stdout) == reference_summaries(
        records, default_time_zone="America/Chicago")


def test_user_errors_name_what_is_wrong(tmp_path: Path) -> None:
    res = rta("replay", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2
    assert "event log not found" in res.stderr.decode()
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    res = rta("replay", str(log), "--tenants", str(tmp_path / "nope.toml"))
    assert res.returncode == 2
    assert f"tenants file not found: {tmp_path / 'nope.toml'}" in res.stderr.decode()
    bad = tmp_path / "bad.toml"
    bad.write_text('[tenants.acme]\ntime_zone = "UTC"\nalert_after = 5\n')
    res = rta("replay", str(log), "--tenants", str(bad))
    assert res.returncode == 2
    assert "tenants.acme.alert_after: unknown key" in res.stderr.decode()
    res = rta("replay", str(log), "--tenant-timezone", "Mars/Olympus")
    assert res.returncode == 2
    assert "unknown IANA time zone 'Mars/Olympus'" in res.stderr.decode()
    res = rta("replay", str(log))
    assert (res.returncode, json.loads(res.stdout)) == (0, [])


def test_unknown_identities_are_reported_not_silently_dropped(tmp_path: Path) -> None:
    log = tmp_path / "orphans.jsonl"
    log.write_text(json.dumps({"kind": "state", "body": {
        "tenantId": "t", "acdAgentId": "999", "gisStateIdentifier": 3,
        "timestamp": 1772800000000}}) + "\n")
    res = rta("replay", str(log))
    assert res.returncode == 0
    assert "1 state event(s) of ACD identities that no schedule message names" in \
        res.stderr.decode()
