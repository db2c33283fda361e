"""The query views' record handling (what each worker keeps from the output topics)."""

from __future__ import annotations

import orjson

from streams.api.views import TopicViews
from streams.settings import WorkerSettings


def summary(tenant: str, agent: int, day: str, n: int = 0) -> bytes:
    return orjson.dumps({"tenantId": tenant, "agentId": agent, "date": day, "n": n})


def test_summaries_follow_upserts_tombstones_and_the_kept_days() -> None:
    v = TopicViews(WorkerSettings(api_history_days=2))
    adh = v.settings.topic_adherence
    v._apply(adh, b"t:7:2026-03-01", summary("t", 7, "2026-03-01"))
    v._apply(adh, b"t:7:2026-03-01", summary("t", 7, "2026-03-01", 1))  # newer value
    v._apply(adh, b"t:8:2026-03-01", summary("t", 8, "2026-03-01"))
    v._apply(adh, b"u:7:2026-03-01", summary("u", 7, "2026-03-01"))  # another tenant
    assert orjson.loads(v.days[("t", "2026-03-01")]["7"])["n"] == 1
    assert v.agent_order("t", "2026-03-01") == ["7", "8"]
    v._apply(adh, b"t:10:2026-03-01", summary("t", 10, "2026-03-01"))
    assert v.agent_order("t", "2026-03-01") == ["7", "8", "10"]  # cache renewed
    v._apply(adh, b"t:10:2026-03-01", None)
    assert set(v.days[("t", "2026-03-01")]) == {"7", "8"}
    v._apply(adh, b"t:8:2026-03-01", None)  # the day no longer exists
    assert set(v.days[("t", "2026-03-01")]) == {"7"}
    assert v.agent_order("t", "2026-03-01") == ["7"]
    # a newer day moves the window (2 days): 03-01 is dropped for t only
    v._apply(adh, b"t:7:2026-03-03", summary("t", 7, "2026-03-03"))
    assert ("t", "2026-03-01") not in v.days and ("u", "2026-03-01") in v.days
    assert not v.kept("t", "2026-03-01") and v.kept("t", "2026-03-02")
    v._apply(adh, b"t:7:2026-03-01", summary("t", 7, "2026-03-01"))  # late: outside
    assert ("t", "2026-03-01") not in v.days
    v._apply(adh, b"t:9:2026-03-03", b"not json")  # unreadable: skipped, not fatal
    assert v.summary_count() == 2


def test_status_and_sessions() -> None:
    v = TopicViews(WorkerSettings())
    s = v.settings
    v._apply(s.topic_status, b"t:7", orjson.dumps({"tenantId": "t", "agentId": 7, "x": 1}))
    assert orjson.loads(v.status[("t", "7")])["x"] == 1
    rec = orjson.dumps({"tenant": "t", "user": "u", "created": 100, "lastSeen": 100})
    v._apply(s.topic_sessions, b"k1", rec)
    v.used["k1"] = 300  # a use on this worker counts here at once ...
    assert v.session("k1").last_seen == 300  # type: ignore[union-attr]
    assert v.shared_last_use("k1") == 100  # ... and is not yet known to the others
    v._apply(s.topic_sessions, b"k1:seen", orjson.dumps({"lastSeen": 500}))
    found = v.session("k1")
    assert found is not None and (found.tenant, found.last_seen) == ("t", 500)
    # a use recorded after the end (racing with it) does not revive the session
    v._apply(s.topic_sessions, b"k1", orjson.dumps({"ended": True, "at": 600}))
    v._apply(s.topic_sessions, b"k1:seen", orjson.dumps({"lastSeen": 700}))
    assert v.session("k1") is None
    v._apply(s.topic_sessions, b"k2", rec)
    # sweeping: ended k1 once the grace passed; k2 once idle beyond timeout + grace
    assert v.stale_sessions(now=650, idle_ms=1000, grace_ms=100) == []
    assert v.stale_sessions(now=701, idle_ms=1000, grace_ms=100) == ["k1"]
    assert sorted(v.stale_sessions(now=1201, idle_ms=1000, grace_ms=100)) == ["k1", "k2"]
    v._apply(s.topic_sessions, b"k1", None)  # tombstone
    v._apply(s.topic_sessions, b"k1:seen", None)
    assert "k1" not in v.ended and "k1" not in v.seen


def test_the_cluster_secret_is_long_or_unset() -> None:
    import pytest
    from pydantic import ValidationError

    assert WorkerSettings(cluster_secret="").cluster_secret is None
    assert WorkerSettings(cluster_secret="   ").cluster_secret is None
    with pytest.raises(ValidationError, match="at least 16 characters"):
        WorkerSettings(cluster_secret="short")
    # the placeholder of .env.example and deploy/k8s/secret.yaml: known to everyone
    with pytest.raises(ValidationError, match="placeholder"):
        WorkerSettings(cluster_secret="replace-with-a-long-random-cluster-secret")
    good = WorkerSettings(cluster_secret="x" * 16).cluster_secret
    assert good is not None and good.get_secret_value() == "x" * 16
