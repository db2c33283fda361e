"""The Prometheus exposition (streams.metrics): each collector keeps the names, types
and labels scraped before prometheus-client, label values are escaped (no broker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import test_utils
from prometheus_client import Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rta.config import TenantsConfig
from streams.api.app import Api, ApiConfig
from streams.api.auth import Authenticator, hash_api_key
from streams.api.backend import WorkerBackend
from streams.history.sink import HistorySink
from streams.metrics import (
    BUCKETS,
    Buckets,
    Figure,
    Figures,
    Labelled,
    histogram,
    new_registry,
)
from streams.settings import WorkerSettings
from streams.wfm.config import WfmConfig
from streams.wfm.forwarder import Forwarder
from streams.worker.runtime import LATENCY_BUCKETS, Runtime

# what docs/API.md, docs/HISTORY.md and docs/WFM.md promise, as scraped before
HTTP = {"rta_http_requests_total": "counter", "rta_http_request_duration_seconds": "histogram",
        "rta_http_ingested_total": "counter", "rta_http_rejected_batches_total": "counter",
        "rta_event_loop_lag_seconds": "gauge", "rta_monitor_streams": "gauge"}
ENGINE = {**{f"rta_{n}_total": "counter" for n in (
    "routed", "applied", "held", "released", "deadletter", "summaries", "restored", "pruned")},
    "rta_reducers": "gauge", "rta_ready": "gauge", "rta_view_lag_records": "gauge",
    "rta_view_summaries": "gauge", "rta_view_agents": "gauge", "rta_sessions": "gauge",
    # issue 19: labelled by topic or cause, a histogram, and three gauges
    "rta_records_in_total": "counter", "rta_records_out_total": "counter",
    "rta_consumer_lag_records": "gauge", "rta_status_latency_seconds": "histogram",
    "rta_snapshot_bytes": "gauge", "rta_recovery_seconds": "gauge"}
HISTORY = {"rta_history_rows_written_total": "counter",
           "rta_history_write_failures_total": "counter",
           "rta_history_lag_records": "gauge", "rta_history_database_up": "gauge"}
FORWARD = {"rta_forward_states_total": "counter", "rta_forward_batches_total": "counter",
           "rta_forward_failures_total": "counter", "rta_forward_deadletter_total": "counter",
           "rta_forward_duplicates_total": "counter", "rta_forward_sessions_total": "counter",
           "rta_forward_lag_records": "gauge", "rta_forward_buffered": "gauge",
           "rta_forward_wfm_up": "gauge"}


def types(text: str) -> dict[str, str]:
    """``# TYPE name kind`` lines, as a scraper reads them (names as written)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in out, f"{name} typed twice"
            out[name] = kind
    return out


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def check_figures(text: str, figures: list[Figure]) -> None:
    """Each figure as the hand-written exposition wrote it: ``# TYPE name kind`` and
    one unlabelled sample ``name value`` (labelled ones: a sample per label value)."""
    typed, got = types(text), samples(text)
    for name, kind, _help, value in figures:
        assert typed[name] == kind
        if isinstance(value, Labelled):
            for labels, v in value.values.items():
                assert got[(name, tuple(zip(value.labels, labels, strict=True)))] == v
        elif isinstance(value, Buckets):
            assert got[(f"{name}_count", ())] == value.count
        elif value != value:  # NaN
            assert got[(name, ())] != got[(name, ())]
        else:
            assert got[(name, ())] == value
            assert f"\n{name} " in text  # the sample's name as written, nothing appended


def sink() -> HistorySink:
    s = HistorySink(WorkerSettings(), store=None)  # type: ignore[arg-type]
    s.written, s.failures, s.lag, s.db_up = 1234567, 3, 42, False
    return s


def forwarder() -> Forwarder:
    config = WfmConfig.from_mapping(
        {"wfm": {"base_url": "http://127.0.0.1:9", "tenant": "t", "user_id": "u"}},
        env={"RTA_WFM_PASSWORD": "p"})
    fwd = Forwarder(WorkerSettings(), config, client=SimpleNamespace(authorizations=2))  # type: ignore[arg-type]
    fwd.forwarded, fwd.batches, fwd.failures, fwd.deadlettered = 800, 16, 11, 1
    fwd.duplicates, fwd.lag, fwd.wfm_up = 2, 7, False
    return fwd


def backend(**extra: Any) -> WorkerBackend:
    rt = Runtime(WorkerSettings(), TenantsConfig())
    rt.counters.update({"routed": 5, "applied": 4, "deadletter": 1})
    rt.reducers.update({"a": 1, "b": 2})  # type: ignore[dict-item]
    rt.ready = True
    rt.dead_lettered("malformed")
    app = SimpleNamespace(consumer=None, rebalancing=False)
    return WorkerBackend(app, rt, WorkerSettings(), TenantsConfig.from_toml(""), None, None,
                         None, None, "rta.agent-input", **extra)


def api(b: Any) -> Api:
    tenants = TenantsConfig.from_toml(f'[tenants.a]\napi_keys = ["{hash_api_key("k")}"]\n')
    return Api(b, Authenticator(tenants), ApiConfig(1_000_000, 100, 3600), lambda: 0)


async def scrape(a: Api, *paths: str) -> tuple[str, str]:
    async with test_utils.TestClient(test_utils.TestServer(a.make_app())) as client:
        for path in paths:
            await (await client.get(path)).read()
        resp = await client.get("/metrics")
        assert resp.status == 200
        return await resp.text(), resp.headers["Content-Type"]


async def test_the_worker_exposes_every_name_and_type_as_before() -> None:
    fwd, hs = forwarder(), sink()
    b = backend(sink=hs, extra_metrics=[fwd.metrics])
    text, content_type = await scrape(api(b), "/livez", "/livez", "/nowhere")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert types(text) == {**HTTP, **ENGINE, **HISTORY, **FORWARD}
    check_figures(text, b.engine_metrics())
    check_figures(text, hs.metrics())
    check_figures(text, fwd.metrics())
    assert "_created" not in text
    got = samples(text)
    assert got[("rta_http_requests_total",
                (("method", "GET"), ("route", "/livez"), ("status", "200")))] == 2
    assert got[("rta_http_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert got[("rta_http_request_duration_seconds_count", (("route", "/livez"),))] == 2
    assert ("rta_event_loop_lag_seconds", ()) in got


async def test_ingest_counters_keep_their_kind_label() -> None:
    a = api(backend())
    a.accepted.labels(kind="state").inc(3)
    a.rejected.labels(kind="schedule").inc()
    text, _ = await scrape(a)
    got = samples(text)
    assert got[("rta_http_ingested_total", (("kind", "state"),))] == 3
    assert got[("rta_http_rejected_batches_total", (("kind", "schedule"),))] == 1


async def test_the_event_loop_lag_is_read_at_each_scrape() -> None:
    a = api(backend())
    a.loop_lag = 0.75
    text, _ = await scrape(a)
    assert samples(text)[("rta_event_loop_lag_seconds", ())] == 0.75


def test_the_forwarder_alone_as_rta_forward_serves_it() -> None:
    fwd = forwarder()
    registry = new_registry()
    registry.register(Figures(fwd.metrics))
    text = generate_latest(registry).decode()
    assert types(text) == FORWARD
    check_figures(text, fwd.metrics())
    fwd.forwarded += 5  # read at each scrape, not copied
    assert samples(generate_latest(registry).decode())[("rta_forward_states_total", ())] == 805


def test_histogram_buckets_and_le_as_before() -> None:
    registry = new_registry()
    h = histogram("rta_d_seconds", "help", ("route",), registry)
    for v in (0.001, 0.02, 0.02, 30.0):
        h.labels(route="/a").observe(v)
    text = generate_latest(registry).decode()
    assert types(text) == {"rta_d_seconds": "histogram"}
    got = samples(text)
    # the hand-written exposition wrote the bounds with :g ("10", not "10.0")
    les = [le for (name, labels), _ in got.items() if name == "rta_d_seconds_bucket"
           for k, le in labels if k == "le"]
    assert les == [f"{b:g}" for b in BUCKETS] + ["+Inf"]
    assert 'rta_d_seconds_bucket{le="10",route="/a"}' in text
    bucket = {le: got[("rta_d_seconds_bucket", (("le", le), ("route", "/a")))] for le in les}
    assert (bucket["0.005"], bucket["0.025"], bucket["10"], bucket["+Inf"]) == (1, 3, 3, 4)
    assert got[("rta_d_seconds_count", (("route", "/a"),))] == 4
    assert got[("rta_d_seconds_sum", (("route", "/a"),))] == pytest.approx(30.041)


def test_label_values_are_escaped() -> None:
    registry = new_registry()
    c = Counter("rta_x_total", "help", ("route",), registry=registry)
    nasty = 'a"b\\c\nd'
    c.labels(route=nasty).inc(2)
    text = generate_latest(registry).decode()
    # the text format: backslash, double quote and newline escaped, one line per sample
    assert 'rta_x_total{route="a\\"b\\\\c\\nd"} 2.0\n' in text
    assert samples(text)[("rta_x_total", (("route", nasty),))] == 2


def test_a_counter_keeps_its_name_or_is_refused() -> None:
    ok = new_registry()
    ok.register(Figures(lambda: [("rta_a_total", "counter", "h", 1.0),
                                 ("rta_b", "gauge", "h", 2.0)]))
    assert types(generate_latest(ok).decode()) == {"rta_a_total": "counter", "rta_b": "gauge"}
    for bad in (("rta_a", "counter", "h", 1.0), ("rta_a", "summary", "h", 1.0)):
        registry = new_registry()
        registry.register(Figures(lambda bad=bad: [bad]))  # type: ignore[misc]
        with pytest.raises(ValueError):
            generate_latest(registry)


async def test_the_engines_labelled_figures_and_histogram() -> None:
    """Records in and out by topic, dead letters by cause (every cause, zeros too),
    consumer lag by topic, the status latency histogram, snapshot bytes and the
    recovery time, as the worker's runtime keeps them."""
    b = backend()
    rt = b.rt
    rt.took("rta.agent-state", 7)
    rt.records_out.update({"rta.agent-status": 3, "rta-agents-changelog": 2})
    rt.dead_lettered("future")
    rt.dead_lettered("future")
    rt.lag = {"rta.agent-state": 12, "rta.schedule": 0}
    for seconds in (0.02, 0.2, 45.0, 120.0):
        rt.status_latency.observe(seconds)
    rt.snapshot_bytes.update({"t:1": 1000, "t:2": 500})
    text, _ = await scrape(api(b))
    got = samples(text)
    assert got[("rta_records_in_total", (("topic", "rta.agent-state"),))] == 7
    assert got[("rta_records_out_total", (("topic", "rta-agents-changelog"),))] == 2
    assert {labels[0][1]: v for (name, labels), v in got.items()
            if name == "rta_deadletter_total"} == {
        "malformed": 1, "future": 2, "horizon": 0, "hold_overflow": 0, "conflict": 0,
        "other": 0}
    assert got[("rta_consumer_lag_records", (("topic", "rta.agent-state"),))] == 12
    buckets = {labels[0][1]: v for (name, labels), v in got.items()
               if name == "rta_status_latency_seconds_bucket"}
    assert list(buckets) == [f"{x:g}" for x in LATENCY_BUCKETS] + ["+Inf"]
    assert (buckets["0.025"], buckets["0.25"], buckets["60"], buckets["+Inf"]) == (1, 2, 3, 4)
    assert got[("rta_status_latency_seconds_count", ())] == 4
    assert got[("rta_status_latency_seconds_sum", ())] == pytest.approx(165.22)
    assert got[("rta_snapshot_bytes", ())] == 1500
    recovery = got[("rta_recovery_seconds", ())]
    assert recovery != recovery  # NaN until a recovery was timed
    rt.recovery_seconds = 1.25
    assert samples((await scrape(api(b)))[0])[("rta_recovery_seconds", ())] == 1.25


def test_figures_refuse_a_histogram_without_buckets() -> None:
    for bad in (("rta_h_seconds", "histogram", "h", 1.0),
                ("rta_g", "gauge", "h", Buckets((1.0,)))):
        registry = new_registry()
        registry.register(Figures(lambda bad=bad: [bad]))  # type: ignore[misc]
        with pytest.raises(ValueError):
            generate_latest(registry)
