"""``purge_unassigned``: a memory table's entries of partitions that left go, and so
does faust's recovery offset for them, so a partition assigned here again is read from
its changelog's start (faust 0.15.3 keeps the offset when a rebalance is superseded by
the next one; the entries purged were then lost for good)."""

from __future__ import annotations

from typing import Any

import pytest
from faust.types import TP

from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.worker.app import build_app
from streams.worker.rebalance import purge_unassigned


def test_purged_partitions_are_recovered_from_the_changelog_start() -> None:
    settings = WorkerSettings(broker_url="kafka://127.0.0.1:1", app_id="x", web_enabled=False)
    app: Any = build_app(settings, TenantsConfig.from_mapping(None, "UTC"))
    rt = app.rta_runtime
    directory, held = app.tables["directory"], app.tables["held"]
    keys = [f"t:1:{n}" for n in range(40)]
    by_part: dict[int, list[str]] = {}
    for k in keys:
        by_part.setdefault(rt.partition_of(k), []).append(k)
        directory.data[k] = ["agent", {}]
        held.data[k] = [[1, 2, []]]
    assert len(by_part) > 1
    leaving, staying = sorted(by_part)[0], sorted(by_part)[1]
    recovery = app.tables.recovery
    changelog = directory.changelog_topic.get_topic_name()
    # faust recovered both partitions up to offset 41 (and kept that for a partition
    # assigned again, as when its rebalance bookkeeping was cut short)
    recovery.active_offsets[TP(changelog, leaving)] = 41
    recovery.active_offsets[TP(changelog, staying)] = 41

    dropped = purge_unassigned(app, {"x-directory": (directory, held)},
                               [TP("x-directory", leaving)], rt.partition_of)

    assert dropped == 2 * len(by_part[leaving])
    assert not any(rt.partition_of(k) == leaving for k in directory.data)
    assert not any(rt.partition_of(k) == leaving for k in held.data)
    assert {k for k in directory.data} == {k for k in keys if rt.partition_of(k) != leaving}
    # the partition that stays keeps its offset; the one that left starts over when
    # it comes back (faust's own bookkeeping of an assignment: None = the log start)
    assert recovery.active_offsets[TP(changelog, staying)] == 41
    assert TP(changelog, leaving) not in recovery.active_offsets
    recovery.add_active(directory, TP(changelog, leaving))
    assert recovery.active_offsets[TP(changelog, leaving)] is None


def test_a_worker_whose_tables_do_not_recover_stops(monkeypatch: Any) -> None:
    """faust's table recovery can hang after rebalances in quick succession (seen in
    the randomized test: partitions unprocessed for good). A worker whose tables have
    not recovered for RTA_RECOVERY_STALL_SECONDS stops (its supervisor restarts it)."""
    import asyncio
    import time
    from types import SimpleNamespace

    from streams.worker import timers
    from streams.worker.runtime import Runtime

    stopped: list[str] = []

    def stop(step: str, exc: BaseException) -> Any:
        stopped.append(f"{step}: {exc}")
        raise SystemExit(70)

    monkeypatch.setattr(timers, "stop_unacked", stop)
    settings = WorkerSettings(recovery_stall_seconds=5)
    rt = Runtime(settings, TenantsConfig.from_mapping(None, "UTC"))
    w: Any = SimpleNamespace(rt=rt, settings=settings,
                             app=SimpleNamespace(rebalancing=False, in_recovery=True))
    rt.ready, rt.unready_since = False, time.monotonic() - 4
    asyncio.run(timers.restore_assigned(w))  # recovering for 4 s: fine
    assert stopped == []
    rt.unready_since = time.monotonic() - 6
    with pytest.raises(SystemExit):
        asyncio.run(timers.restore_assigned(w))
    assert stopped and "have not recovered" in stopped[0]
